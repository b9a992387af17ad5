"""From trials to a verdict (pure): the comparisons a claim makes and how they combine."""

from __future__ import annotations

import pytest

from sslctl.claims.spec import Claim
from sslctl.claims.verdict import Trial, evaluate, metric_names

STATEMENT = {"text": "t", "paper": "p", "section": "s", "quoted": False}


def claim(**fields: object) -> Claim:
    base = {
        "name": "c",
        "title": "c",
        "statement": STATEMENT,
        "kind": "pipeline",
        "scales": {"quick": {"base": "x.yaml"}},
        "measure": "indep/nhsic",
        "direction": "decrease",
        "seeds": 3,
    }
    return Claim.model_validate({**base, **fields})


def width_trials() -> list[Trial]:
    """nHSIC falls with width, identically for every seed; digits OOD rises with it,
    mnist5k-c OOD is flat."""
    out = []
    for i, width in enumerate((64, 256, 1024)):
        for seed in range(3):
            metrics = {
                "indep/nhsic": 0.3 - 0.1 * i,
                "ood/digits/top1": 70.0 + 5 * i,
                "ood/mnist5k-c/top1": 80.0 + (seed % 2),
                "ood/mnist5k-c/noise/top1": 1.0,
            }
            out.append(Trial(f"projector.width={width}", width, seed, f"r{i}{seed}", metrics))
    return out


def test_metric_globs_stay_within_segments() -> None:
    names = metric_names("ood/*/top1", width_trials())
    assert names == ["ood/digits/top1", "ood/mnist5k-c/top1"]


def test_rank_correlation_over_the_varied_field() -> None:
    vary = {"field": "projector.width", "values": [64, 256, 1024]}
    result = evaluate(claim(vary=vary, test="rank-correlation"), width_trials(), "quick")
    (c,) = result.comparisons
    assert (c.estimate, c.low, c.high, c.n) == pytest.approx((-1.0, -1.0, -1.0, 9))
    assert result.verdict == "supported"
    assert len(result.run_ids) == 9


def test_rank_correlation_against_a_metric_with_a_glob_combines_verdicts() -> None:
    """rho(nHSIC, digits) = -1 (supported: decrease); rho(nHSIC, mnist5k-c) has no trend
    (its bootstrap interval straddles 0): the claim as a whole is inconclusive."""
    vary = {"field": "projector.width", "values": [64, 256, 1024]}
    c = claim(vary=vary, test="rank-correlation", x_metric="indep/nhsic", measure="ood/*/top1")
    result = evaluate(c, width_trials(), "quick")
    verdicts = {x.label: x.verdict for x in result.comparisons}
    assert verdicts == {"ood/digits/top1": "supported", "ood/mnist5k-c/top1": "inconclusive"}
    assert result.verdict == "inconclusive"


def test_paired_arms_by_seed() -> None:
    arms = {"frozen": [], "none": []}
    trials = [
        Trial("frozen", None, s, f"f{s}", {"indep/nhsic": v})
        for s, v in enumerate((0.10, 0.12, 0.11))
    ] + [
        Trial("none", None, s, f"n{s}", {"indep/nhsic": v}) for s, v in enumerate((0.2, 0.25, 0.2))
    ]
    c = claim(
        arms=arms, compare={"treatment": ["frozen"], "control": "none"}, test="paired-difference"
    )
    result = evaluate(c, trials, "quick")
    (cmp,) = result.comparisons
    assert cmp.estimate == pytest.approx(-0.32 / 3)  # differences -0.10, -0.13, -0.09
    assert result.verdict == "supported"
    flipped = evaluate(c.model_copy(update={"direction": "increase"}), trials, "quick")
    assert flipped.verdict == "contradicted"


def test_too_few_values_is_a_note_and_inconclusive() -> None:
    arms = {"a": [], "b": []}
    trials = [
        Trial("a", None, 0, "a0", {"indep/nhsic": 0.1}),
        Trial("b", None, 0, "b0", {"indep/nhsic": 0.2}),
    ]
    c = claim(arms=arms, compare={"treatment": ["a"], "control": "b"}, test="paired-difference")
    result = evaluate(c, trials, "quick")
    assert result.verdict == "inconclusive" and result.notes and not result.comparisons


def test_a_run_that_did_not_finish_is_left_out_and_named() -> None:
    """A failed run (a diverged arm) is excluded from the paired test, which uses the
    seeds where both arms finished; the result names the run and why, and the claim is
    not called supported while a run is missing."""
    c = claim(
        arms={"a": [], "b": []},
        compare={"treatment": ["a"], "control": "b"},
        measure="spectrum/rankme",
        test="paired-difference",
        direction="increase",
    )
    trials = [Trial("a", None, s, f"a{s}", {"spectrum/rankme": 2.0 + 0.01 * s}) for s in (0, 1)]
    trials.append(Trial("a", None, 2, "a2", {}, error="matrix singular"))
    trials += [Trial("b", None, s, f"b{s}", {"spectrum/rankme": 1.0}) for s in (0, 1, 2)]
    result = evaluate(c, trials, "quick")
    assert result.comparisons[0].n == 2
    assert any("a seed 2: run a2 did not finish" in n and "singular" in n for n in result.notes)
    assert result.comparisons[0].verdict == "supported"  # on the two finished pairs
    assert result.verdict == "inconclusive"  # but not as a whole, with a run missing
