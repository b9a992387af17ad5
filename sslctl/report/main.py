"""``sslctl report`` from options to output: read the store, select, aggregate (or pivot),
render, plot. The CLI only turns flags into :class:`ReportOptions` and prints or writes
the :class:`ReportOutput`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from sslctl.errors import SslctlError
from sslctl.report.aggregate import DEFAULT_METRICS, build_report, glob_match, pivot
from sslctl.report.formats import FORMATS, render, rich_table
from sslctl.report.plot import parse_plot, plot, sweep_objective, sweep_plots, sweep_space
from sslctl.report.query import MetricChoice, RunRow, Store, load_runs
from sslctl.report.select import parse_filter, select
from sslctl.report.sheet import Sheet, pivot_sheet, report_sheet


@dataclass
class ReportOptions:
    experiment: str | None = None
    sweep: str | None = None
    filters: list[str] = field(default_factory=list)
    by: list[str] | None = None  # grouping fields; None: every recipe field that varies
    metrics: list[str] | None = None  # globs; None: DEFAULT_METRICS
    sort: str | None = None  # NAME[:asc|:desc]
    format: str = "table"
    pivot: tuple[str, str, str] | None = None  # ROWFIELD COLFIELD METRIC
    plot: str | None = None  # 'x=FIELD y=METRIC hue=FIELD out=FILE' (hue, out optional)
    include_all: bool = False
    plot_dir: Path = Path(".")
    ci: str | None = None  # "t" or "bootstrap": 95% intervals of the means, ties marked
    compare: tuple[str, str] | None = None  # FIELD=A FIELD=B: paired difference by seed


@dataclass
class ReportOutput:
    sheet: Sheet
    format: str
    plots: list[Path]

    @cached_property
    def text(self) -> str:
        """The report in the requested format (the terminal table as plain text)."""
        return render(self.sheet, self.format)

    @property
    def table(self) -> Any:
        """A rich renderable for the terminal when the format is "table", else None."""
        return rich_table(self.sheet) if self.format == "table" else None


def split_list(text: str | None) -> list[str] | None:
    """``'a, b,,c'`` -> ``['a', 'b', 'c']``; None or blank -> None."""
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    return items or None


def check_options(opts: ReportOptions) -> None:
    """Option errors that need no store."""
    if opts.format not in FORMATS:
        raise SslctlError(f"--format: got {opts.format!r}; expected one of {', '.join(FORMATS)}")
    if opts.pivot is not None and (opts.by or opts.metrics or opts.sort):
        raise SslctlError("--pivot makes its own rows and columns: drop --by, --metrics and --sort")


def metric_choice(opts: ReportOptions) -> MetricChoice:
    """The metrics the report can need: the column globs (and their baselines), plus the
    metrics named by --sort, --filter, --plot y=, --pivot and the sweep's objective."""
    patterns = [*(opts.metrics or DEFAULT_METRICS)]
    named = {(opts.sort or "").partition(":")[0], *(opts.pivot or ())[2:]}
    named |= {parse_filter(f).field for f in opts.filters}
    named |= {p.removeprefix("y=") for p in (opts.plot or "").replace(",", " ").split()}

    def choose(every_run: list[RunRow]) -> Callable[[str], bool]:
        exact = named | ({sweep_objective(every_run, opts.sweep)[0]} if opts.sweep else set())

        def keep(key: str) -> bool:
            base = key.removeprefix("baseline/raw/").removeprefix("baseline/random/")
            return key in exact or base in exact or any(glob_match(base, p) for p in patterns)

        return keep

    return choose


def make_report(opts: ReportOptions, uri: str) -> ReportOutput:
    """The report of the store at ``uri`` as ``opts`` asks, with its plots written."""
    check_options(opts)
    store = load_runs(uri, metric_choice(opts))
    every_run = store.runs
    rows, excluded = select(
        every_run,
        experiment=opts.experiment,
        sweep=opts.sweep,
        filters=opts.filters,
        include_all=opts.include_all,
    )
    plot_spec = parse_plot(opts.plot, rows) if opts.plot is not None else None
    sheet = _sheet(opts, rows, store, excluded)
    plots = []
    if plot_spec is not None and rows:
        out = plot_spec.out or opts.plot_dir / plot_spec.filename()
        plots.append(plot(rows, plot_spec, out))
    if opts.sweep is not None and opts.plot is None and rows:
        objective, _ = sweep_objective(every_run, opts.sweep)
        swept = sweep_space(every_run, opts.sweep)
        plots += sweep_plots(rows, opts.sweep, objective, opts.plot_dir, swept)
    return ReportOutput(sheet, opts.format, plots)


def _sheet(
    opts: ReportOptions, rows: list[RunRow], store: Store, excluded: dict[str, int]
) -> Sheet:
    logged = store.metric_names
    if opts.compare is not None:
        from sslctl.report.aggregate import metric_columns
        from sslctl.report.intervals import compare_sheet

        return compare_sheet(rows, metric_columns(rows, opts.metrics, None, logged), *opts.compare)
    if opts.pivot is not None:
        included = Counter(r.state for r in rows if not r.complete)
        table = pivot(rows, *opts.pivot, logged=logged)
        return pivot_sheet(table, excluded, dict(sorted(included.items())))
    sort, lead, swept = opts.sort, None, None
    if opts.sweep is not None:
        swept = sweep_space(store.runs, opts.sweep)
        lead, direction = sweep_objective(store.runs, opts.sweep)
        if sort is None and any(lead in r.metrics for r in rows):
            sort = f"{lead}:{'asc' if direction == 'minimize' else 'desc'}"
    report = build_report(
        rows,
        by=opts.by,
        metrics=opts.metrics,
        sort=sort,
        excluded=excluded,
        lead=lead,
        logged=logged,
        prefer=swept,
    )
    if opts.ci is not None:
        from sslctl.report.intervals import add_intervals

        add_intervals(report, rows, opts.ci)
    sheet = report_sheet(report, _title(opts, len(rows)))
    if opts.ci is not None:
        how = "seeded percentile bootstrap" if opts.ci == "bootstrap" else "Student t"
        sheet.notes.append(
            f"[low, high]: 95% interval of the mean over the row's runs ({how}); (tie): "
            "overlaps the leading row's interval on the first column"
        )
    return sheet


def _title(opts: ReportOptions, n: int) -> str:
    scope = (
        f"sweep {opts.sweep}"
        if opts.sweep
        else f"experiment {opts.experiment}"
        if opts.experiment
        else "all experiments"
    )
    return f"sslctl report: {scope}, {n} run(s)"
