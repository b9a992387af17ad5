"""PNG plots: a metric against a recipe field, one line per hue, error bars = std over seeds."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from sslctl.errors import SslctlError
from sslctl.report.aggregate import _sorted, aggregate
from sslctl.report.query import RunRow


def parse_plot(spec: str) -> dict[str, str]:
    """``'x=projector.width y=linear/top1 hue=method.name'`` -> dict (x and y required)."""
    parts = dict(p.split("=", 1) for p in spec.replace(",", " ").split() if "=" in p)
    if not {"x", "y"} <= set(parts) or set(parts) - {"x", "y", "hue"}:
        raise SslctlError(f"--plot: got {spec!r}; expected 'x=FIELD y=METRIC [hue=FIELD]'")
    return parts


def plot(rows: list[RunRow], x: str, y: str, hue: str | None, out: Path) -> Path:
    """Write the plot to ``out`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if y in r.metrics and r.field(x) is not None:
            series[str(r.field(hue)) if hue else y][str(r.field(x))].append(r.metrics[y])
    if not series:
        raise SslctlError(f"--plot: no run has both {x!r} and metric {y!r}")
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, points in sorted(series.items()):
        xs = _sorted(set(points))
        cells = [aggregate(points[v]) for v in xs]
        try:
            xv: list[float | str] = [float(v) for v in xs]
        except ValueError:
            xv = list(xs)
        ax.errorbar(
            xv,
            [c.mean for c in cells],
            yerr=[c.std for c in cells],
            marker="o",
            capsize=3,
            label=label,
        )
    numeric = all(isinstance(v, float) for v in xv)
    if numeric and min(float(v) for p in series.values() for v in p) > 0:
        values = sorted(float(v) for p in series.values() for v in p)
        if values[-1] / values[0] >= 16:
            ax.set_xscale("log", base=2)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if hue or len(series) > 1:
        ax.legend(title=hue)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
