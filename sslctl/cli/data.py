"""``sslctl data pack`` and ``sslctl data info``: packed (streamed) datasets."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from sslctl.cli.common import fail, make_console
from sslctl.errors import SslctlError

data_app = typer.Typer(
    help="Pack large image datasets into litdata shards for streaming, and inspect them.",
    no_args_is_help=True,
)

IMAGEFOLDER = "imagefolder:"


def _default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


@data_app.command("pack")
def pack(
    source: Annotated[
        str,
        typer.Argument(
            help="imagefolder:<path> (train/ and val/ or test/), stl10 (with its unlabelled "
            "split), cifar10, cifar100, fashion-mnist or mnist5k."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the shards into.")],
    max_side: Annotated[
        int | None, typer.Option(min=16, help="Shrink images whose longer side exceeds this.")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Decoding processes.")] = None,
    skip_bad: Annotated[
        bool, typer.Option(help="Skip undecodable files (listed in the manifest).")
    ] = False,
    root: Annotated[
        str | None,
        typer.Option(help="Built-in sets: the folder holding them (default $SSLCTL_DATA)."),
    ] = None,
    download: Annotated[
        bool, typer.Option(help="cifar10, cifar100: fetch with torchvision.")
    ] = False,
) -> None:
    """Pack an ImageFolder or a built-in set into streamed shards; re-run after an
    interruption to continue."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from sslctl.locks import describe_owner

    given = {"--max-side": max_side, "--workers": workers, "--skip-bad": skip_bad}
    given |= {"--root": root, "--download": download}
    try:
        packer = _packer(source, given)
    except SslctlError as err:
        fail(err)
    console = make_console()
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task: list[Any] = []

        def on_split(name: str, total: int) -> None:
            task[:] = [progress.add_task(f"pack {escape(name)}", total=total)]

        def on_item() -> None:
            progress.advance(task[0])

        def on_wait(holder: dict[str, Any]) -> None:
            who = escape(describe_owner(holder))
            console.print(f"waiting for the process packing {escape(str(out))} ({who})")

        try:
            manifest, already = packer(out, on_split=on_split, on_item=on_item, on_wait=on_wait)
        except SslctlError as err:
            fail(err)
    if already:
        console.print(f"{escape(str(out))} is already complete")
    _print_counts(console, manifest)
    console.print(f"use it with: data: {{name: shards:{escape(str(out))}, image_size: 224}}")


# the options of each kind of source; the others are refused rather than ignored
FOLDER_OPTIONS = ("--max-side", "--workers", "--skip-bad")
BUILTIN_OPTIONS = ("--root", "--download")


def _packer(source: str, given: dict[str, Any]) -> Callable[..., tuple[dict[str, Any], bool]]:
    """The packing function of ``source`` with its options bound: ``(out, on_split=,
    on_item=, on_wait=) -> (manifest, already complete)``; an error naming the source or an option
    that does not apply to it (``given``: option -> value, falsy when not given)."""
    from sslctl.data.stream.builtin import DOWNLOADABLE, PACKABLE

    if source.startswith(IMAGEFOLDER) and len(source) > len(IMAGEFOLDER):
        _refuse(source, given, BUILTIN_OPTIONS, "the built-in sets (the path names the folder)")
        from sslctl.data.stream.pack import pack_imagefolder

        workers = given["--workers"] or _default_workers()
        folder = Path(source.removeprefix(IMAGEFOLDER))
        options = {"max_side": given["--max-side"], "skip_bad": given["--skip-bad"]}
        return partial(pack_imagefolder, folder, workers=workers, **options)
    if source not in ("stl10", *PACKABLE):
        expected = ", ".join(("imagefolder:<path>", "stl10", *PACKABLE))
        raise SslctlError(f"source: got {source!r}; expected one of {expected}")
    raw = "imagefolder: sources (the built-in sets are packed from raw pixels, as they are)"
    _refuse(source, given, FOLDER_OPTIONS, raw)
    if source not in DOWNLOADABLE:
        _refuse(source, given, ("--download",), ", ".join(DOWNLOADABLE))
    from sslctl.data.datasets import data_root

    if source == "stl10":
        from sslctl.data.stream.stl10 import pack_stl10

        return partial(pack_stl10, data_root(given["--root"]))
    from sslctl.data.stream.builtin import pack_builtin

    return partial(pack_builtin, source, data_root(given["--root"]), download=given["--download"])


def _refuse(source: str, given: dict[str, Any], options: tuple[str, ...], applies: str) -> None:
    for option in options:
        if given[option]:
            raise SslctlError(f"{option} applies to {applies}, not to {source!r}")


def _print_counts(console: Any, manifest: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    splits = manifest["splits"]
    table = Table(title="images")
    table.add_column("class")
    for name in splits:
        table.add_column(escape(name), justify="right")
    for cls in manifest["classes"]:
        table.add_row(escape(cls), *(str(s["per_class"].get(cls, 0)) for s in splits.values()))
    if any(s.get("unlabelled") for s in splits.values()):
        table.add_row("(unlabelled)", *(str(s.get("unlabelled", 0)) for s in splits.values()))
    table.add_row("[bold]total[/]", *(f"[bold]{s['samples']}[/]" for s in splits.values()))
    console.print(table)
    for name, split in splits.items():
        if split["skipped"]:
            console.print(f"{escape(name)}: skipped {len(split['skipped'])} unreadable files:")
            for line in split["skipped"][:20]:
                console.print(f"  {escape(line)}", highlight=False)


@data_app.command("info")
def info(path: Annotated[str, typer.Argument(help="A packed dataset folder (or shards:<path>).")]):
    """Classes, counts, image sizes, shards, bytes and checksum of a packed dataset."""
    from rich.markup import escape

    from sslctl.data.stream.manifest import read_manifest, shards_path

    try:
        manifest = read_manifest(path, "PATH")
    except SslctlError as err:
        fail(err)
    console = make_console()
    folder = shards_path(path)
    console.print(
        f"[bold]{escape(str(folder))}[/]  format {manifest['format_version']}, "
        f"{len(manifest['classes'])} classes, checksum {manifest['checksum'][:16]}"
    )
    for name, split in manifest["splits"].items():
        shards = len(list((folder / name).glob("chunk-*.bin")))
        side = split["shorter_side"]
        console.print(
            f"  {escape(name)}: {split['samples']} images in {shards} shard{'s' * (shards != 1)}, "
            f"{split['bytes'] / 2**20:.1f} MiB, shorter side {side['min']}-{side['max']} px "
            f"(median {side['median']})"
        )
    _print_counts(console, manifest)
