"""The run vocabulary is stated once: tag names only in sslctl/vocabulary.py, every status
has a meaning, and a status or stage state it does not define cannot be written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sslctl
from sslctl.tracking import Tracker
from sslctl.vocabulary import (
    MEANING,
    PREFIX,
    Status,
    Tag,
    check_tags,
    is_complete,
    running_stage,
    stage_states,
    stage_tag,
)

PACKAGE = Path(sslctl.__file__).parent
# a quoted string that is an sslctl tag name (or the start of one), e.g. "sslctl.status"
TAG_LITERAL = re.compile(r"""["']sslctl\.[a-z_]+(\.[a-z_]*)*["'{]""")
MODULE_NAMES = {p.stem for p in PACKAGE.rglob("*.py")} | {p.name for p in PACKAGE.iterdir()}


def _tag_literals(path: Path) -> list[str]:
    """Quoted ``sslctl.<name>`` strings in ``path`` that are not module paths."""
    found = []
    for match in TAG_LITERAL.finditer(path.read_text()):
        first = match.group(0)[1:].split(".")[1].rstrip("\"'{")
        if first not in MODULE_NAMES:
            found.append(match.group(0))
    return found


def test_tag_names_are_typed_only_in_the_vocabulary() -> None:
    offenders = {
        str(p.relative_to(PACKAGE)): _tag_literals(p)
        for p in PACKAGE.rglob("*.py")
        if p.name != "vocabulary.py"
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_scan_finds_a_tag_literal(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'tags = {"sslctl.status": "running", "sslctl.stage.x": 1}\nimport sslctl.data\n'
    )
    assert _tag_literals(sample) == ['"sslctl.status"', '"sslctl.stage.x"']


def test_every_tag_name_is_distinct_and_prefixed() -> None:
    names = [v for k, v in vars(Tag).items() if k.isupper()]
    assert len(names) == len(set(names))
    assert all(n.startswith(PREFIX) for n in names)


def test_every_status_has_a_meaning() -> None:
    assert set(MEANING) == set(Status)
    assert all(MEANING[s] for s in Status)


@pytest.mark.parametrize(
    "tags",
    [{Tag.STATUS: "finished"}, {Tag.STATUS: "Complete"}, {stage_tag("linear"): "ok"}],
)
def test_an_undefined_status_or_stage_state_is_refused(tags: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="sslctl.vocabulary"):
        check_tags(tags)


def test_defined_statuses_and_other_tags_pass() -> None:
    check_tags({Tag.STATUS: Status.PRETRAINED, stage_tag("pretrain"): "done", Tag.SEED: "x"})


def test_tracker_refuses_an_undefined_status(tmp_path: Path) -> None:
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = tracker.create(tracker.experiment_id("e"), "r", {Tag.STATUS: Status.RUNNING})
    with pytest.raises(ValueError):
        tracker.set_tags(run_id, {Tag.STATUS: "done"})
    assert tracker.get(run_id).tags[Tag.STATUS] == "running"


def test_complete_means_finished_and_status_complete() -> None:
    assert is_complete("FINISHED", {Tag.STATUS: "complete"})
    assert not is_complete("FINISHED", {Tag.STATUS: "superseded"})
    assert not is_complete("RUNNING", {Tag.STATUS: "complete"})
    # a run another tool logged in the same store: MLflow's word counts
    assert is_complete("FINISHED", {})
    assert not is_complete("FAILED", {})


def test_stage_states_and_the_running_stage() -> None:
    tags = {stage_tag("pretrain"): "done", stage_tag("linear"): "running", Tag.SEED: "0"}
    assert stage_states(tags) == {"pretrain": "done", "linear": "running"}
    assert running_stage(tags) == "linear"
    assert running_stage({stage_tag("pretrain"): "done"}) is None
