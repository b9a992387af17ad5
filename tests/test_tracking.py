"""MLflow tracking conventions (sslctl.tracking): quoted filters, stage tags of a stopped
run, stale error tags, and no run left RUNNING when MLflow refuses its parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslctl.errors import SslctlError
from sslctl.tracking import Tracker, tag_equals
from sslctl.vocabulary import Tag


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    return Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")


@pytest.mark.parametrize("value", ["plain", "it's", 'say "hi"', "a = 'b' OR 1=1"])
def test_tag_filters_find_exactly_the_value(tracker: Tracker, value: str) -> None:
    """A filter built with tag_equals finds the run whose tag holds ``value`` (quotes
    included) and no other; injection-looking text is just text."""
    exp = tracker.experiment_id("e")
    target = tracker.create(exp, "t", {"k": value})
    tracker.create(exp, "other", {"k": "other"})
    found = tracker.client.search_runs([exp], filter_string=tag_equals("k", value))
    assert [r.info.run_id for r in found] == [target]


def test_tag_filters_refuse_what_cannot_be_quoted() -> None:
    """Both quote characters, or a backtick in the key, cannot be written: an error."""
    with pytest.raises(SslctlError):
        tag_equals("k", "both ' and \"")
    with pytest.raises(SslctlError):
        tag_equals("k`", "v")


def test_stopped_run_has_no_running_stage(tracker: Tracker) -> None:
    """close_stages turns `running` stage tags into the run's final status; done stays."""
    run = tracker.create(tracker.experiment_id("e"), "r", {})
    tracker.set_tags(run, {"sslctl.stage.pretrain": "done", "sslctl.stage.linear": "running"})
    tracker.close_stages(run, "failed")
    tags = tracker.get(run).tags
    assert tags["sslctl.stage.pretrain"] == "done" and tags["sslctl.stage.linear"] == "failed"
    tracker.set_tags(run, {"sslctl.error": "old"})
    tracker.delete_tag(run, "sslctl.error")
    tracker.delete_tag(run, "sslctl.error")  # absent: nothing to do, no error
    assert "sslctl.error" not in tracker.get(run).tags


def test_refused_params_leave_no_running_run(
    tracker: Tracker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """When MLflow refuses the recipe's parameters after the run exists, the run is closed
    as FAILED with the reason, and the user gets a message (exit 2), not a RUNNING run."""
    from sslctl.pipeline import _new_run
    from sslctl.recipe import load_recipe
    from tests.conftest import RECIPES

    monkeypatch.chdir(tmp_path)

    def refuse(run_id: str, params: dict) -> None:
        raise ValueError("Invalid parameter name")

    monkeypatch.setattr(tracker, "log_params", refuse)
    recipe = load_recipe(RECIPES / "vicreg.yaml")
    with pytest.raises(SslctlError, match="refused"):
        _new_run(tracker, recipe, "h" * 16, "r.yaml", {})
    exp = tracker.client.get_experiment_by_name(recipe.experiment)
    (run,) = tracker.client.search_runs([exp.experiment_id])
    assert run.info.status == "FAILED" and run.data.tags[Tag.STATUS] == "failed"
    assert run.data.tags[Tag.RECIPE_HASH] == "h" * 16
