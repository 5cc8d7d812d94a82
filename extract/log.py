"""Logging: rich output on a terminal, plain structured lines otherwise (cron, CI, files)."""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger("ivoris")


def interactive() -> bool:
    return sys.stderr.isatty() and os.environ.get("CI") != "true"


def setup(verbosity: int = 0) -> None:
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    root = logging.getLogger("ivoris")
    root.handlers.clear()
    if interactive():
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, markup=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s level=%(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


def progress(description: str, total: int):
    """A progress bar on a terminal; a no-op elsewhere (plain logs say what finished)."""
    from contextlib import nullcontext

    if not interactive():

        class _Quiet:
            def advance(self, n: int = 1) -> None:  # noqa: D401 - tiny stand-in
                pass

        return nullcontext(_Quiet())
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    class _Bar:
        def __init__(self) -> None:
            self._p = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                transient=False,
            )
            self._task = self._p.add_task(description, total=total)

        def __enter__(self):
            self._p.__enter__()
            return self

        def __exit__(self, *exc):
            return self._p.__exit__(*exc)

        def advance(self, n: int = 1) -> None:
            self._p.advance(self._task, n)

    return _Bar()
