"""`ivoris render` command."""

from __future__ import annotations

import argparse

from extract.config import load_settings
from extract.render.render import render_project


def cmd_render(args: argparse.Namespace) -> int:
    settings = load_settings(getattr(args, "config", None))
    result = render_project(settings)
    print(
        f"rendered {len(result.centers)} centers: {len(result.written)} files written, "
        f"{len(result.unchanged)} unchanged, {len(result.removed)} removed"
    )
    for center_id, reason in sorted(result.skipped.items()):
        print(f"  skipped {center_id}: {reason}")
    return 0
