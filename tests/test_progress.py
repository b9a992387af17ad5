"""Plain progress lines for output that is not a terminal: one per pretraining epoch, the
steps and evaluation steps at most every ``interval`` seconds, and each evaluation step's end."""

from __future__ import annotations

from types import SimpleNamespace

from sslctl.progress import PlainReporter


def test_lines_are_periodic_and_every_step_end_is_shown() -> None:
    now = [0.0]
    lines: list[str] = []
    rep = PlainReporter(lines.append, interval=10, clock=lambda: now[0])
    rep.start(epochs=2, first_epoch=0, steps_per_epoch=100)
    for _ in range(100):  # one step a second: a line every 10 s, not every step
        now[0] += 1
        rep.step()
    rep.epoch(SimpleNamespace(epoch=1, loss=1.5, images_per_s=250.0))
    for done in range(1, 51):
        now[0] += 0.1
        rep.progress_of("linear epochs", done, 50)
    steps = [line for line in lines if "step" in line]
    assert lines[0].startswith("pretrain: epochs 1..2, 100 steps each")
    assert 8 <= len(steps) <= 11, steps
    assert "pretrain epoch 1/2: loss 1.5000, 250 img/s [100 s]" in lines
    evals = [line for line in lines if line.startswith("eval")]
    assert evals == ["eval linear epochs: 50/50 [105 s]"], "a fast step shows only its end"
