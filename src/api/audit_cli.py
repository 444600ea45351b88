"""``lifecycle audit ...``: the auditor's reads from the command line.

    lifecycle audit history KIND ID            every event of a contract or subscription
    lifecycle audit as-of KIND ID TIMESTAMP    its state as of an RFC 3339 instant
    lifecycle audit export FILE                the whole chained log as NDJSON
    lifecycle audit verify [FILE]              verify the database, or an export file offline

They build the service on the existing log that the ``LIFECYCLE_*`` settings name
(``api.cli_setup.open_existing``: never a new database) but start no background
threads: export and verify first bring the ``audit_chain`` projection up to the log's
head themselves.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from projections.audit_lines import GENESIS, canonical

PAGE = 1000


def add_commands(commands: Any) -> None:
    """Register ``audit`` and its subcommands on the ``lifecycle`` parser."""
    audit = commands.add_parser(
        "audit",
        help="history, state as of an instant, export and verify",
        description="The auditor's reads of the event log: the same answers as the "
        "/v1/audit routes (docs/audit.md).",
    )
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")
    kind_help = "contracts or subscriptions (singular accepted)"

    history = actions.add_parser(
        "history",
        help="every event of a contract or subscription",
        description="Every event of one contract or subscription, in order, as JSON.",
    )
    history.add_argument("kind", metavar="KIND", help=kind_help)
    history.add_argument("id", metavar="ID", help="the contract's or subscription's id")
    history.set_defaults(run=_history, prog=history.prog)

    as_of = actions.add_parser(
        "as-of",
        help="a contract or subscription as of an instant",
        description="A contract or subscription as it stood at an instant, as JSON.",
    )
    as_of.add_argument("kind", metavar="KIND", help=kind_help)
    as_of.add_argument("id", metavar="ID", help="the contract's or subscription's id")
    as_of.add_argument(
        "timestamp", metavar="TIMESTAMP", help="RFC 3339 with offset, e.g. 2027-03-01T00:00:00Z"
    )
    as_of.set_defaults(run=_as_of, prog=as_of.prog)

    export = actions.add_parser(
        "export",
        help="write the chained log as NDJSON",
        description="Write the hash-chained log as NDJSON, one event a line, with a "
        "progress bar on stderr; docs/verify_export.py checks the file without the service.",
    )
    export.add_argument("file", metavar="FILE", help="where to write (- for standard output)")
    export.add_argument(
        "--after",
        type=int,
        default=0,
        metavar="POSITION",
        help="start after this log position (default: %(default)s, the whole log)",
    )
    export.set_defaults(run=_export, prog=export.prog)

    verify = actions.add_parser(
        "verify",
        help="verify the database's chain, or an export FILE without the database",
        description="Verify the hash chain: of the database's log, or of an export file "
        "without the database. Prints the result as JSON; exit 1 if the chain is broken.",
    )
    verify.add_argument("file", nargs="?", metavar="FILE", help="an export file to verify offline")
    verify.add_argument(
        "--prev-hash",
        default=GENESIS,
        metavar="HASH",
        help="the hash the file's first line follows (for an export that starts after 0)",
    )
    verify.set_defaults(run=_verify, prog=verify.prog)


# --- helpers -------------------------------------------------------------------------


def _kind(name: str) -> str:
    return name if name.endswith("s") else name + "s"


def _container(args: argparse.Namespace) -> Any:
    from api.cli_setup import open_existing

    # The scheduler is built (under the system clock) but never started here.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return open_existing(args.settings)


def _audit_log(container: Any) -> Any:
    from api.routes.audit import audit_log

    return audit_log(container)


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _problem(error: Exception) -> int:
    detail = getattr(error, "detail", None) or str(error)
    print(f"lifecycle audit: {detail}", file=sys.stderr)
    return 2


class ProgressBar:
    """``[#####.....] 512/1024 events`` on standard error, redrawn in place."""

    def __init__(self, total: int, stream: IO[str] | None = None, width: int = 30) -> None:
        self.total = max(total, 0)
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.done = 0
        self._drawn = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._drawn >= 0.1 or self.done >= self.total:
            self._draw()
            self._drawn = now

    def _draw(self) -> None:
        if self.total == 0:
            filled = self.width
        else:
            filled = min(self.width, self.width * self.done // self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total} events")
        self.stream.flush()

    def close(self) -> None:
        if self._drawn == 0.0 or self.done < self.total:
            self._draw()
        self.stream.write("\n")
        self.stream.flush()


# --- subcommands ---------------------------------------------------------------------


def _history(args: argparse.Namespace) -> int:
    from api.routes.audit import history_of
    from lifecycle.errors import DomainError

    container = _container(args)
    try:
        _print_json(history_of(container, _kind(args.kind), args.id))
    except DomainError as error:
        return _problem(error)
    finally:
        container.close()
    return 0


def _as_of(args: argparse.Namespace) -> int:
    from api.routes.audit import state_as_of
    from lifecycle.errors import DomainError

    try:
        instant = datetime.fromisoformat(args.timestamp.replace("Z", "+00:00"))
    except ValueError:
        return _problem(ValueError(f"not an RFC 3339 instant: {args.timestamp!r}"))
    if instant.tzinfo is None:
        return _problem(ValueError("the timestamp needs its offset (Z or +hh:mm)"))
    container = _container(args)
    try:
        _print_json(state_as_of(container, _kind(args.kind), args.id, instant))
    except DomainError as error:
        return _problem(error)
    finally:
        container.close()
    return 0


def _export(args: argparse.Namespace) -> int:
    container = _container(args)
    written = 0
    try:
        container.runners["audit_chain"].catch_up()
        log = _audit_log(container)
        bar = ProgressBar(log.count(args.after))
        out: IO[str] = sys.stdout if args.file == "-" else open(args.file, "w", encoding="utf-8")
        try:
            last = args.after
            while True:
                lines = log.export(last, PAGE)
                if not lines:
                    break
                out.writelines(canonical(line) + "\n" for line in lines)
                last = lines[-1]["position"]
                written += len(lines)
                bar.advance(len(lines))
            bar.close()
        finally:
            if out is not sys.stdout:
                out.close()
    finally:
        container.close()
    print(f"exported {written} events to {args.file}", file=sys.stderr)
    return 0


def verify_file(path: str | Path, prev_hash: str = GENESIS) -> dict[str, Any]:
    """Check every line's hash and its link to the line before, without the database."""
    events = 0
    last_position = None
    with open(path, encoding="utf-8") as lines:
        for number, text in enumerate(lines, 1):
            bad = {"ok": False, "events": events, "head_hash": prev_hash, "first_bad_line": number}
            try:
                line = json.loads(text)
                claimed = line.pop("hash")
            except (ValueError, KeyError, AttributeError):
                return {**bad, "reason": "not an audit line"}
            bad["first_bad_position"] = line.get("position")
            if line.get("prev_hash") != prev_hash:
                return {**bad, "reason": "prev_hash does not name the line before"}
            if hashlib.sha256(canonical(line).encode("utf-8")).hexdigest() != claimed:
                return {**bad, "reason": "the line does not match its hash"}
            if last_position is not None and not line["position"] > last_position:
                return {**bad, "reason": "positions are not in log order"}
            last_position = line["position"]
            prev_hash = claimed
            events += 1
    return {"ok": True, "events": events, "head_hash": prev_hash}


def _verify(args: argparse.Namespace) -> int:
    if args.file:
        result = verify_file(args.file, args.prev_hash)
    else:
        container = _container(args)
        try:
            container.runners["audit_chain"].catch_up()
            result = _audit_log(container).verify().as_dict()
        finally:
            container.close()
    _print_json(result)
    return 0 if result["ok"] else 1
