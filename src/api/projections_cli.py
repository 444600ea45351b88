"""``lifecycle projections status`` and ``lifecycle projections rebuild NAME``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO


def _container() -> Any:
    from api.bootstrap import build
    from api.settings import Settings

    return build(Settings())


def progress_bar(stream: TextIO, width: int = 40) -> Any:
    """A one-line progress bar on ``stream`` (stderr): position / head."""

    def show(position: int, head: int) -> None:
        done = 1.0 if head <= 0 else min(1.0, position / head)
        filled = int(done * width)
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {position}/{head} {done:6.1%}")
        if position >= head:
            stream.write("\n")
        stream.flush()

    return show


def _status(args: argparse.Namespace) -> int:
    from api.routes.ops import projection_status

    container = _container()
    try:
        rows = projection_status(container)
    finally:
        container.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<16}{'status':<12}{'position':>10}{'head':>10}{'lag':>8}")
    for row in rows:
        print(f"{row['name']:<16}{row['status']:<12}{row['position']:>10}{row['head']:>10}{row['lag']:>8}")
        if row.get("error"):
            print(f"    error at {row.get('failed_position')}: {row['error']}")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from projections.rebuild import RebuildFailed

    container = _container()
    try:
        if args.name not in container.runners:
            print(f"unknown projection {args.name!r}; one of {', '.join(container.runners)}", file=sys.stderr)
            return 2
        try:
            generation = container.rebuilder(args.name).run(progress_bar(sys.stderr))
        except RebuildFailed as error:
            print(f"\n{error}; the previous copy keeps serving", file=sys.stderr)
            return 1
        print(f"{args.name} rebuilt: generation {generation}")
        return 0
    finally:
        container.close()


def add_commands(commands: Any) -> None:
    projections = commands.add_parser("projections", help="projection status and rebuilds")
    sub = projections.add_subparsers(dest="projections_command", required=True)
    status = sub.add_parser("status", help="each projection's position, head, lag and status")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=_status)
    rebuild = sub.add_parser(
        "rebuild", help="rebuild a projection from the event log beside the serving copy"
    )
    rebuild.add_argument("name")
    rebuild.set_defaults(run=_rebuild)
