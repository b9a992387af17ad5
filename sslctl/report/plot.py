"""PNG plots: a metric against a recipe field, one line per hue value, error bars = std
over seeds (only where a point has two runs or more; the legend gives each line's n),
dashed lines at the raw-pixel and random-init baselines; runs that did not train are red
crosses, outside the lines and means; for a sweep, its objective against each swept field."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sslctl.errors import SslctlError
from sslctl.evals.health import FLAG
from sslctl.report.aggregate import aggregate, field_priority, order_key, same_partition
from sslctl.report.query import RunRow
from sslctl.report.select import as_number, known_fields, resolve_field
from sslctl.vocabulary import Tag

PLOT_KEYS = {"x", "y", "hue", "out"}


@dataclass
class PlotSpec:
    x: str  # recipe field
    y: str  # metric
    hue: str | None = None  # recipe field, one line per value
    out: Path | None = None

    def filename(self) -> str:
        name = f"{safe(self.y)}_vs_{safe(self.x)}"
        return name + (f"_by_{safe(self.hue)}" if self.hue else "") + ".png"


def safe(name: str) -> str:
    return name.replace("/", "_").replace(" ", "_")


def parse_plot(spec: str, rows: list[RunRow]) -> PlotSpec:
    """``'x=projector.width y=linear/top1 hue=method [out=fig.png]'`` (spaces or commas
    between the parts); fields resolved (``method`` -> ``method.name``), y must be logged."""
    parts = [p for p in spec.replace(",", " ").split() if p]
    pairs = dict(p.split("=", 1) for p in parts if "=" in p)
    if len(pairs) != len(parts) or not {"x", "y"} <= set(pairs) or set(pairs) - PLOT_KEYS:
        raise SslctlError(
            f"--plot: got {spec!r}; expected 'x=FIELD y=METRIC', optionally with hue=FIELD "
            "and out=FILE.png"
        )
    if not rows:
        return PlotSpec(pairs["x"], pairs["y"], pairs.get("hue"))
    known = known_fields(rows)
    if not any(pairs["y"] in r.metrics for r in rows):
        raise SslctlError(f"--plot: y={pairs['y']!r} is not a logged metric")
    return PlotSpec(
        resolve_field(pairs["x"], known, "--plot"),
        pairs["y"],
        resolve_field(pairs["hue"], known, "--plot") if "hue" in pairs else None,
        Path(pairs["out"]) if "out" in pairs else None,
    )


def plot(rows: list[RunRow], spec: PlotSpec, out: Path, title: str | None = None) -> Path:
    """Write :func:`figure` to the PNG ``out``."""
    import matplotlib.pyplot as plt

    fig = figure(rows, spec, title)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def figure(rows: list[RunRow], spec: PlotSpec, title: str | None = None) -> Any:
    """``spec.y`` against ``spec.x`` (mean ± std over the runs at each point, with the
    baselines); text x as categories, numeric x on a log axis when it spans a factor of 4
    or more."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    healthy = [r for r in rows if r.health != FLAG]
    failed = _series([r for r in rows if r.health == FLAG], spec, required=False)
    series = _series(healthy, spec, required=not failed)
    every = [*series.values(), *failed.values()]
    xs = sorted({v for points in every for v in points}, key=order_key)
    numeric = all(as_number(v) is not None and math.isfinite(float(v)) for v in xs)
    position = {v: float(v) if numeric else float(i) for i, v in enumerate(xs)}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    counts: list[int] = []
    for label, points in sorted(series.items(), key=lambda kv: order_key(kv[0])):
        here = sorted(points, key=order_key)
        cells = [aggregate(points[v]) for v in here]
        counts += [c.n for c in cells]
        ax.errorbar(
            [position[v] for v in here],
            [c.mean for c in cells],
            yerr=[c.std if c.n >= 2 and math.isfinite(c.std) else 0.0 for c in cells],
            marker="o",
            capsize=3,
            label=f"{label} ({n_text([c.n for c in cells])})",
        )
    _flagged(ax, failed, position)
    _baseline_lines(ax, rows, spec.y)
    if not numeric:
        ax.set_xticks(list(position.values()), xs)
    else:
        _numeric_axis(ax, sorted(position.values()))
    ax.set_xlabel(spec.x)
    spread = "mean ± std over runs" if max(counts, default=1) >= 2 else "one run per point"
    ax.set_ylabel(f"{spec.y} ({spread})")
    ax.set_title(title or f"{spec.y} vs {spec.x}")
    ax.legend(title=spec.hue, fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def n_text(counts: list[int]) -> str:
    """``n=3``, or ``n=1-3`` when the points of a line have different counts."""
    low, high = min(counts), max(counts)
    return f"n={low}" if low == high else f"n={low}-{high}"


def _baseline_lines(ax: Any, rows: list[RunRow], y: str) -> None:
    """Dashed horizontal lines at the raw-pixel and random-init baselines of ``y`` (mean
    over the runs that logged them), one per training dataset."""
    styles = {"raw": ("raw pixels", "--"), "random": ("random init", ":")}
    for kind, (label, style) in styles.items():
        by_data: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            value = r.metrics.get(f"baseline/{kind}/{y}")
            if value is not None:
                by_data[r.params.get("data.name", "?")].append(value)
        for data, values in sorted(by_data.items()):
            cell = aggregate(values)
            name = f"{label}" + (f", {data}" if len(by_data) > 1 else "")
            ax.axhline(cell.mean, color="grey", linestyle=style, label=f"{name} ({cell.mean:.1f})")


def _numeric_axis(ax: Any, values: list[float]) -> None:
    """A log axis (base 2 for powers of two, else 10) when the values are positive and
    span a factor of 4 or more; ticks at the values themselves when there are few."""
    if values[0] > 0 and values[-1] / values[0] >= 4:
        powers_of_two = all(math.log2(v).is_integer() for v in values)
        ax.set_xscale("log", base=2 if powers_of_two else 10)
    if len(values) <= 12:
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()


def _flagged(ax: Any, failed: dict[str, dict[str, list[float]]], position: dict) -> None:
    """Runs that did not train (:mod:`sslctl.evals.health`): each run a red cross, never
    part of a line or a mean, labelled as such in the legend."""
    points = [(position[x], y) for p in failed.values() for x, ys in p.items() for y in ys]
    if points:
        xs, ys = zip(*points, strict=True)
        ax.scatter(xs, ys, marker="x", color="red", s=60, zorder=5, label=f"{FLAG} (see report)")


def _series(
    rows: list[RunRow], spec: PlotSpec, required: bool = True
) -> dict[str, dict[str, list[float]]]:
    series: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        x = r.field(spec.x)
        if spec.y in r.metrics and x is not None:
            label = str(r.field(spec.hue)) if spec.hue else spec.y
            series[label][x].append(r.metrics[spec.y])
    if not series and required:
        raise SslctlError(f"--plot: no run has both field {spec.x!r} and metric {spec.y!r}")
    return series


def _parent_params(every_run: list[RunRow], sweep: str) -> dict[str, str]:
    parent = next(
        (r for r in every_run if r.tags.get(Tag.SWEEP) == sweep and r.tags.get(Tag.SWEEP_PARENT)),
        None,
    )
    return parent.params if parent else {}


def sweep_objective(every_run: list[RunRow], sweep: str) -> tuple[str, str]:
    """The sweep's objective metric and direction, from its parent run's params."""
    params = _parent_params(every_run, sweep)
    return params.get("objective", "linear/top1"), params.get("direction", "maximize")


def sweep_space(every_run: list[RunRow], sweep: str) -> list[str]:
    """The sweep's swept paths (its ``space`` keys), from its parent run's params."""
    import ast

    try:
        space = ast.literal_eval(_parent_params(every_run, sweep).get("space", "[]"))
    except (ValueError, SyntaxError):
        return []
    return [str(k) for k in space] if isinstance(space, list) else []


def swept_fields(rows: list[RunRow], swept: list[str] | None = None) -> list[str]:
    """The sweep's own paths (``swept``, its space keys) that vary among the trials, so
    linked paths (``projector.out_dim``, a per-width ``projector.lr_scale``) get no plot
    of their own; without them, the recipe fields that vary (the seed aside), one of each
    set that varies together."""
    keys = {k for r in rows for k in r.params} - {"seed"}

    def varies(key: str) -> bool:
        return len({r.params.get(key) for r in rows}) > 1

    if swept and any(varies(k) for k in swept):
        return sorted(k for k in swept if varies(k))
    out: list[str] = []
    for key in sorted(keys, key=field_priority):
        if varies(key) and not any(same_partition(rows, kept, key) for kept in out):
            out.append(key)
    return sorted(out)


def sweep_plots(
    rows: list[RunRow], sweep: str, objective: str, folder: Path, swept: list[str] | None = None
) -> list[Path]:
    """One PNG per swept field: the objective against it (with two swept fields, the
    other one as hue), written to ``folder/<sweep>_<field>.png``."""
    fields = swept_fields(rows, swept)
    if not any(objective in r.metrics for r in rows):
        return []
    out = []
    for f in fields:
        hue = next((h for h in fields if h != f), None) if len(fields) == 2 else None
        spec = PlotSpec(f, objective, hue)
        title = f"sweep {sweep}: {objective} vs {f}"
        out.append(plot(rows, spec, folder / f"{safe(sweep)}_{safe(f)}.png", title))
    return out
