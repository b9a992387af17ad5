"""``sslctl data pack`` and ``sslctl data info``: packed (streamed) datasets."""

from __future__ import annotations

import os
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
        bool, typer.Option(help="cifar10, cifar100, fashion-mnist: fetch with torchvision.")
    ] = False,
) -> None:
    """Pack an ImageFolder or a built-in set into streamed shards; re-run after an
    interruption to continue."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from sslctl.data.stream.builtin import PACKABLE
    from sslctl.data.stream.pack import pack_imagefolder

    is_folder = source.startswith(IMAGEFOLDER) and len(source) > len(IMAGEFOLDER)
    if not is_folder and source not in ("stl10", *PACKABLE):
        expected = ", ".join(("imagefolder:<path>", "stl10", *PACKABLE))
        fail(SslctlError(f"source: got {source!r}; expected one of {expected}"))
    console = make_console()
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task: list[Any] = []

        def on_split(name: str, total: int) -> None:
            task[:] = [progress.add_task(f"pack {escape(name)}", total=total)]

        advance = lambda: progress.advance(task[0])  # noqa: E731
        try:
            if is_folder:
                manifest, already = pack_imagefolder(
                    Path(source.removeprefix(IMAGEFOLDER)),
                    out,
                    max_side=max_side,
                    workers=workers or _default_workers(),
                    skip_bad=skip_bad,
                    on_split=on_split,
                    on_item=advance,
                )
            elif source == "stl10":
                from sslctl.data.datasets import data_root
                from sslctl.data.stream.stl10 import pack_stl10

                manifest, already = pack_stl10(
                    data_root(root), out, on_split=on_split, on_item=advance
                )
            else:
                from sslctl.data.datasets import data_root
                from sslctl.data.stream.builtin import pack_builtin

                manifest, already = pack_builtin(
                    source,
                    data_root(root),
                    out,
                    download=download,
                    on_split=on_split,
                    on_item=advance,
                )
        except SslctlError as err:
            fail(err)
    if already:
        console.print(f"{escape(str(out))} is already complete")
    _print_counts(console, manifest)
    console.print(f"use it with: data: {{name: shards:{escape(str(out))}, image_size: 224}}")


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
            f"  {escape(name)}: {split['samples']} images in {shards} shards, "
            f"{split['bytes'] / 2**20:.1f} MiB, shorter side {side['min']}-{side['max']} px "
            f"(median {side['median']})"
        )
    _print_counts(console, manifest)
