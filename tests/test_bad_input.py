"""Fuzz suite of bad input: every case, generated per class (hostile YAML, unusable files,
values that cannot work, bad --set overrides, bad sweeps), runs in a fresh folder and must
exit with code 2, name the field or file, print no traceback and leave nothing behind (no
MLflow store, run or experiment, no checkpoint folder, no Optuna journal).

The many cases run in-process through typer's CliRunner (fast); a few run as real
subprocesses for end-to-end proof."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sslctl.cli import app
from tests.conftest import RECIPES, run_sslctl

BASE = RECIPES / "vicreg.yaml"
Files = dict[str, "str | bytes | Callable[[Path], None]"]


@dataclass
class Case:
    """One bad input: the files to write, the command line, what the message must name."""

    id: str
    files: Files
    args: list[str]
    expect: list[str]
    skip: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def recipe(body: str, *args: str, expect: list[str], id: str, **kw: object) -> Case:
    """A recipe extending the shipped VICReg recipe, run with `sslctl pretrain`."""
    text = f"extends: {BASE}\n{body}"
    return Case(id, {"r.yaml": text}, ["pretrain", "r.yaml", *args], expect, **kw)  # type: ignore[arg-type]


def bomb(levels: int = 9) -> str:
    """The 'billion laughs' anchors: level n is a list of nine aliases of level n-1."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]")
    return "\n".join(lines)


def yaml_cases() -> list[Case]:
    """Hostile or malformed YAML (class 2 and part of 3 of issue 13)."""
    nested = "seed: " + "[" * 20_000 + "]" * 20_000 + "\n"
    indented = "lol:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 60)) + "\n"
    return [
        Case(
            "bomb-unknown-key",
            {"r.yaml": f"extends: {BASE}\nlol:\n" + _indent(bomb())},
            ["pretrain", "r.yaml"],
            ["r.yaml", "alias"],
        ),
        Case(
            "bomb-in-field",
            {"r.yaml": f"extends: {BASE}\n{bomb()}\nexperiment: *l8\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "alias", "line"],
        ),
        Case(
            "bomb-in-parent",
            {"p.yaml": bomb() + "\n", "r.yaml": "extends: p.yaml\nseed: 1\n"},
            ["pretrain", "r.yaml"],
            ["p.yaml", "alias"],
        ),
        Case(
            "bomb-in-validate",
            {"r.yaml": bomb() + "\n"},
            ["validate", "r.yaml"],
            ["r.yaml", "alias"],
        ),
        Case(
            "recursive-alias",
            {"r.yaml": "seed: &a [*a]\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "alias"],
        ),
        Case("nesting-20000", {"r.yaml": nested}, ["pretrain", "r.yaml"], ["r.yaml", "nest"]),
        Case(
            "nesting-keys",
            {"r.yaml": indented},
            ["pretrain", "r.yaml"],
            ["r.yaml", "nest"],
        ),
        Case(
            "duplicate-top-key",
            {"r.yaml": "seed: 1\nexperiment: x\nseed: 2\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "duplicate key 'seed'", "line 3"],
        ),
        Case(
            "duplicate-nested-key",
            {"r.yaml": "projector: {width: 64, width: 128}\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "duplicate key 'width'"],
        ),
        Case(
            "invalid-utf8",
            {"r.yaml": b"seed: 1\nexperiment: caf\xe9\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "not UTF-8"],
        ),
        Case(
            "binary",
            {"r.yaml": bytes(range(256)) * 4},
            ["pretrain", "r.yaml"],
            ["r.yaml", "binary"],
        ),
        Case("empty", {"r.yaml": ""}, ["pretrain", "r.yaml"], ["r.yaml", "empty"]),
        Case(
            "comment-only",
            {"r.yaml": "# all defaults?\n\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "empty"],
        ),
        Case("empty-mapping", {"r.yaml": "{}\n"}, ["pretrain", "r.yaml"], ["r.yaml", "empty"]),
        Case(
            "huge-file",
            {"r.yaml": "seed: 1\n#" + "x" * 1_100_000 + "\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "bytes"],
        ),
        Case(
            "huge-integer",
            {"r.yaml": "seed: " + "9" * 100_000 + "\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "100000 characters"],
        ),
        Case(
            "date-seed",
            {"r.yaml": "seed: 2001-12-14\n"},
            ["pretrain", "r.yaml"],
            ["seed", "2001-12-14"],
        ),
        Case(
            "top-level-list",
            {"r.yaml": "- seed\n- 1\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "mapping"],
        ),
        Case(
            "top-level-scalar",
            {"r.yaml": "vicreg\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "mapping"],
        ),
        Case(
            "malformed",
            {"r.yaml": "projector: {width: 4\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "malformed YAML", "line"],
        ),
        Case(
            "python-tag",
            {"r.yaml": "seed: !!python/object/apply:os.system [ls]\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "python/object"],
        ),
    ]


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())


def _symlink_loop(folder: Path) -> None:
    (folder / "loop.yaml").symlink_to(folder / "loop.yaml")


def _fifo(folder: Path) -> None:
    os.mkfifo(folder / "fifo.yaml")


def _chain(folder: Path, n: int = 1500) -> None:
    for i in range(n):
        (folder / f"c{i}.yaml").write_text(f"extends: c{i + 1}.yaml\n")
    (folder / f"c{n}.yaml").write_text("seed: 1\n")


def file_cases() -> list[Case]:
    """Recipe files and extends: parents that cannot be read as recipes (class 3)."""
    return [
        Case("missing", {}, ["pretrain", "nope.yaml"], ["nope.yaml", "not found"]),
        Case(
            "extends-missing",
            {"r.yaml": "extends: nope.yaml\n"},
            ["pretrain", "r.yaml"],
            ["nope.yaml", "not found"],
        ),
        Case(
            "extends-binary",
            {"p.yaml": b"\x00\x01\x02" * 100, "r.yaml": "extends: p.yaml\n"},
            ["pretrain", "r.yaml"],
            ["p.yaml", "binary"],
        ),
        Case(
            "extends-not-utf8",
            {"p.yaml": b"seed: \xff\n", "r.yaml": "extends: p.yaml\n"},
            ["pretrain", "r.yaml"],
            ["p.yaml", "UTF-8"],
        ),
        Case(
            "extends-directory",
            {"d": lambda f: (f / "d").mkdir(), "r.yaml": "extends: d\n"},
            ["pretrain", "r.yaml"],
            ["d", "not a regular file"],
        ),
        Case(
            "extends-wrong-type",
            {"r.yaml": "extends: {a: 1}\n"},
            ["pretrain", "r.yaml"],
            ["r.yaml", "extends"],
        ),
        Case(
            "extends-cycle",
            {"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"},
            ["pretrain", "a.yaml"],
            ["a.yaml", "cycle"],
        ),
        Case("extends-1500-chain", {"c": _chain}, ["pretrain", "c0.yaml"], ["chain longer than"]),
        Case(
            "directory",
            {"d": lambda f: (f / "d").mkdir()},
            ["pretrain", "d"],
            ["d", "not a regular file"],
        ),
        Case("symlink-loop", {"loop": _symlink_loop}, ["pretrain", "loop.yaml"], ["loop.yaml"]),
        Case(
            "fifo", {"fifo": _fifo}, ["pretrain", "fifo.yaml"], ["fifo.yaml", "not a regular file"]
        ),
        Case(
            "proc-self-mem",
            {},
            ["pretrain", "/proc/self/mem"],
            ["/proc/self/mem"],
            skip="" if Path("/proc/self/mem").exists() else "no /proc",
        ),
    ]


def value_cases() -> list[Case]:
    """Values the types allow but that cannot work (class 4) and control characters."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    cases = [
        recipe("optim: {lr: .inf}\n", expect=["optim.lr", "inf"], id="inf-lr"),
        recipe("augment: {brightness: .inf}\n", expect=["augment.brightness"], id="inf-aug"),
        recipe(
            "eval: {knn: {temperature: .inf}}\n",
            expect=["eval.knn.temperature"],
            id="inf-knn-temperature",
        ),
        recipe("optim: {lr: .nan}\n", expect=["optim.lr"], id="nan-lr"),
        recipe("method: {sim_coeff: .inf}\n", expect=["method.sim_coeff"], id="inf-method"),
        recipe("seed: -1\n", expect=["seed", "-1"], id="negative-seed"),
        recipe("seed: 4294967296\n", expect=["seed", "4294967296"], id="seed-2^32"),
        recipe("seed: 1000000000000000000000000000000\n", expect=["seed"], id="seed-10^30"),
        recipe("optim: {epochs: 100000000000}\n", expect=["optim.epochs"], id="epochs-10^11"),
        recipe(
            "model: {width: 100000}\n",
            expect=["model.width", "billion parameters"],
            id="model-width-1e5",
        ),
        recipe(
            "projector: {width: 1000000000}\n",
            expect=["projector", "billion parameters"],
            id="projector-width-1e9",
        ),
        recipe(
            'experiment: "data\\nx"\n',
            expect=["experiment", "control character"],
            id="newline-in-name",
        ),
        recipe(
            'experiment: "\\e[31mred"\n',
            expect=["experiment", "control character"],
            id="escape-in-name",
        ),
        recipe('"\\e[2Jevil": 1\n', expect=["control character"], id="escape-in-unknown-key"),
        recipe(
            "experiment: " + "x" * 501 + "\n", expect=["experiment", "200"], id="long-experiment"
        ),
        recipe(
            "data: {name: 'imagefolder:/" + "a" * 5000 + "'}\n",
            expect=["r.yaml", "5013 characters"],
            id="long-imagefolder-path",
        ),
        recipe(
            "launcher: {sbatch: {'bad key; rm': x}}\n", expect=["launcher.sbatch"], id="sbatch-key"
        ),
        recipe(
            "launcher: {sbatch: {account: 'a b; rm -rf x'}}\n",
            expect=["launcher.sbatch", "job script"],
            id="sbatch-value",
        ),
        recipe(
            "launcher: {partition: 'gpu\\nx'}\n",
            expect=["launcher.partition"],
            id="partition-value",
        ),
        recipe(
            "unknown_block: {a: 1}\n", expect=["unknown_block", "unknown key"], id="unknown-key"
        ),
    ]
    if not has_cuda:
        cases.append(
            recipe("runtime: {device: cuda}\n", expect=["runtime.device", "CUDA"], id="cuda")
        )
    return cases


def set_cases() -> list[Case]:
    """Bad --set overrides (aliases, non-finite numbers, dates, control characters)."""
    r = {"r.yaml": f"extends: {BASE}\n"}
    return [
        Case(
            "set-alias",
            r,
            ["pretrain", "r.yaml", "--set", "experiment=[&a [x, x], *a]"],
            ["--set", "alias"],
        ),
        Case("set-inf", r, ["pretrain", "r.yaml", "--set", "optim.lr=.inf"], ["optim.lr"]),
        Case("set-date", r, ["pretrain", "r.yaml", "--set", "seed=2001-12-14"], ["seed"]),
        Case(
            "set-control",
            r,
            ["pretrain", "r.yaml", "--set", "experiment=a\x1b[2Jb"],
            ["experiment", "control character"],
        ),
        Case(
            "set-unknown",
            r,
            ["pretrain", "r.yaml", "--set", "projector.widht=3"],
            ["widht", "width"],
        ),
        Case(
            "set-deep",
            r,
            ["pretrain", "r.yaml", "--set", "seed=" + "[" * 5000 + "]" * 5000],
            ["seed", "10000 characters"],
        ),
    ]


def sweep(body: str, *args: str, expect: list[str], id: str) -> Case:
    """A sweep file over the shipped VICReg recipe, run with `sslctl sweep`."""
    text = f"base: {BASE}\n{body}"
    return Case(id, {"s.yaml": text}, ["sweep", "s.yaml", *args], expect)


def sweep_cases() -> list[Case]:
    """Sweeps that cannot work (class 6 and the sweep parts of classes 2 and 3)."""
    space = "space: {projector.width: [64, 128]}\n"
    grid = (
        "space: {"
        + ", ".join(
            f"{k}: [{', '.join(str(v) for v in range(1, 21))}]"
            for k in ("projector.width", "projector.out_dim", "model.width", "optim.epochs")
        )
        + "}\n"
    )
    return [
        sweep(
            space + "objective: {metric: linaer/top1}\n",
            expect=["objective.metric", "did you mean 'linear/top1'"],
            id="objective-typo",
        ),
        sweep(
            space + "objective: {metric: ood/svhn/top1}\n",
            expect=["objective.metric"],
            id="objective-unknown-ood",
        ),
        sweep(space + 'name: "it\'s"\n', expect=["s.yaml", "name"], id="name-quote"),
        sweep(space + "name: ../../escaped\n", expect=["name", "../../escaped"], id="name-dotdot"),
        sweep(space + "name: /tmp/abs\n", expect=["name", "/tmp/abs"], id="name-absolute"),
        sweep(space + 'name: "a\\nb"\n', expect=["name", "control character"], id="name-newline"),
        sweep(grid, expect=["space", "160,000 points"], id="grid-too-large"),
        sweep(
            space, "--storage", "bogus://x", expect=["--storage", "bogus://x"], id="storage-bogus"
        ),
        sweep(
            space,
            "--storage",
            "missing/dir/s.journal",
            expect=["--storage", "missing/dir"],
            id="storage-missing-folder",
        ),
        sweep(
            space,
            "--storage",
            "sqlite:///missing/s.db",
            expect=["--storage", "missing"],
            id="storage-sqlite-missing-folder",
        ),
        sweep(
            "space: {projector.width: &w [64, 128], projector.out_dim: *w}\n",
            expect=["s.yaml", "alias"],
            id="sweep-alias",
        ),
        sweep(
            "space: {optim.lr: {low: 0.001, high: .inf}}\nsampler: random\ntrials: 2\n",
            expect=["space"],
            id="sweep-range-inf",
        ),
        sweep(
            "space: {projector.width: [64, -1]}\n",
            expect=["projector.width", "-1"],
            id="sweep-bad-point",
        ),
    ]


CASES = [*yaml_cases(), *file_cases(), *value_cases(), *set_cases(), *sweep_cases()]


def _write(folder: Path, files: Files) -> None:
    for name, content in files.items():
        if callable(content):
            content(folder)
        elif isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content)


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_names_it_and_leaves_nothing(workdir: Path, case: Case) -> None:
    """Exit code 2, the field or file named, no traceback, nothing created."""
    if case.skip:
        pytest.skip(case.skip)
    _write(workdir, case.files)
    before = _listing(workdir)
    result = CliRunner().invoke(app, case.args, env={"COLUMNS": "400", **case.extra})
    output = result.output
    assert result.exit_code == 2, (result.exit_code, output[-3000:], result.exception)
    assert "Traceback" not in output
    assert isinstance(result.exception, (SystemExit, type(None))), result.exception
    flat = " ".join(output.split())
    for fragment in case.expect:
        assert fragment in flat, (fragment, flat[:3000])
    assert _listing(workdir) == before  # no mlflow.db, .sslctl/, sweeps/, journal
    assert "\x1b" not in output  # control characters are shown escaped, never sent


@pytest.mark.parametrize(
    ("files", "args", "expect"),
    [
        ({"r.yaml": bomb() + "\nexperiment: *l8\n"}, ["pretrain", "r.yaml"], "alias"),
        (
            {"r.yaml": f'extends: {BASE}\nexperiment: "a\\e[2Jb"\n'},
            ["pretrain", "r.yaml"],
            "control character",
        ),
        (
            {"s.yaml": f"base: {BASE}\nspace: {{seed: [1]}}\nobjective: {{metric: linaer/top1}}\n"},
            ["sweep", "s.yaml"],
            "did you mean",
        ),
    ],
    ids=["alias-bomb", "escape-sequence", "sweep-objective"],
)
def test_bad_input_in_a_real_process(
    tmp_path: Path, files: Files, args: list[str], expect: str
) -> None:
    """The same contract end to end, in a fresh `python -m sslctl` process."""
    _write(tmp_path, files)
    before = _listing(tmp_path)
    out = run_sslctl(tmp_path, *args, timeout=120)
    assert out.returncode == 2, out.stderr
    assert expect in " ".join(out.stderr.split())
    assert "Traceback" not in out.stderr + out.stdout
    assert "\x1b" not in out.stderr + out.stdout
    assert _listing(tmp_path) == before


def test_every_class_is_covered() -> None:
    """The suite keeps at least a few generated cases per class of bad input."""
    for generate in (yaml_cases, file_cases, value_cases, set_cases, sweep_cases):
        assert len(generate()) >= 5, generate.__name__
    assert sys.getrecursionlimit() < 20_000  # the nesting case is deeper than Python recursion
