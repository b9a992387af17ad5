"""Did the run train? One check over what every pipeline run logs, computed once at the end
of the run and stored as the tag ``sslctl.health`` (``ok`` or ``not trained: ...``), so the
sweep leaderboard, ``sslctl report`` and its plots flag the same runs for the same reason
instead of presenting an optimisation failure as a result.

A run is flagged when any of these holds:

* **collapse**: the RankMe (Garrido et al., 2023) of the embedding the loss sees (the
  projector output, or the backbone output without a projector) is below
  ``MIN_RANKME``: every sample maps to (nearly) one point or one line, the complete
  collapse that VICReg's variance term and Barlow Twins' redundancy term exist to prevent
  (Bardes et al., 2022, Sec. 3; Jing et al., 2022 for dimensional collapse);
* **loss not decreasing**: the pretraining loss of the last epoch is less than
  ``MIN_LOSS_DROP`` (relative) below that of the first epoch;
* **probe at chance**: the linear probe's top-1 is below ``CHANCE_FACTOR`` x chance.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_RANKME = 2.0
MIN_LOSS_DROP = 0.05
CHANCE_FACTOR = 1.5
OK = "ok"
FLAG = "not trained"


@dataclass(frozen=True)
class Health:
    """The verdict and, when not trained, one reason per failed criterion."""

    reasons: tuple[str, ...] = ()

    @property
    def trained(self) -> bool:
        return not self.reasons

    @property
    def tag(self) -> str:
        """``ok`` or ``not trained: reason; reason``."""
        return OK if self.trained else f"{FLAG}: {'; '.join(self.reasons)}"


def embedding_rankme(metrics: dict[str, float]) -> float | None:
    """RankMe of the embedding the loss sees: the projector's when logged, else the
    backbone's (a run without a projector)."""
    return metrics.get("spectrum/projector/rankme", metrics.get("spectrum/rankme"))


def loss_drop(losses: list[float]) -> float | None:
    """Relative fall of the per-epoch loss from the first to the last epoch (None with
    fewer than two epochs): ``(first - last) / |first|``."""
    if len(losses) < 2 or losses[0] == 0:
        return None
    return (losses[0] - losses[-1]) / abs(losses[0])


def check_training(losses: list[float], metrics: dict[str, float], num_classes: int) -> Health:
    """The health of a finished run from its per-epoch pretraining losses, its final
    metrics (``spectrum/*rankme``, ``linear/top1`` in %) and the number of classes. A
    criterion whose input was not logged is skipped."""
    reasons = []
    rank = embedding_rankme(metrics)
    if rank is not None and rank < MIN_RANKME:
        reasons.append(f"collapsed (embedding RankMe {rank:.2f} < {MIN_RANKME:g})")
    drop = loss_drop(losses)
    if drop is not None and drop < MIN_LOSS_DROP:
        reasons.append(
            f"loss not decreasing ({losses[0]:.4g} -> {losses[-1]:.4g} over {len(losses)} "
            f"epochs, {100 * drop:.1f}% < {100 * MIN_LOSS_DROP:g}%)"
        )
    top1 = metrics.get("linear/top1")
    chance = 100.0 / max(1, num_classes)
    if top1 is not None and top1 < CHANCE_FACTOR * chance:
        reasons.append(f"probe at chance (linear top-1 {top1:.1f}% vs chance {chance:.1f}%)")
    return Health(tuple(reasons))
