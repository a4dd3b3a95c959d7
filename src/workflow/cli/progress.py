"""Progress bars for long commands: drawn on standard error when it is a terminal, nothing at all otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer

Progress = Callable[[int], None]


@contextmanager
def progress_bar(label: str, length: int | Callable[[], int] | None = None, *, count: bool = False,
                 announce: bool = False) -> Iterator[Progress | None]:
    """Yield the update function of a bar (``length`` steps, or an unknown number; ``count`` shows how many so
    far), or None when standard error is not a terminal: scripts and pipes then see only the command's own output
    (and the label on standard output, with ``announce``). A callable ``length`` is asked only for a bar."""
    if not sys.stderr.isatty():
        if announce:
            typer.echo(label)
        yield None
        return
    if callable(length):
        length = length()
    unsized: Iterator[int] | None = iter(int, 1) if length is None else None  # no length: a moving marker
    with typer.progressbar(unsized, length=length, label=label, file=sys.stderr, show_pos=count,
                           update_min_steps=max(1, (length or 0) // 500)) as bar:
        yield bar.update
