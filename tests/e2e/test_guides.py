"""Every guide runs as written: the shell blocks of README.md and docs/*.md are run, in
the guide's order, against a served instance, and what a guide says they answer or print
is compared with what they do.

How a guide marks its blocks (the Markdown fence's info string):

- ```` ```sh ```` runs. A guide's blocks run in order in one ``bash`` with
  ``set -euo pipefail``, so a variable captured in one block is there in the next. A
  failing command fails the test, which names the guide, the block's line and the command.
- ```` ```sh no-run ```` is shown, never run: ``./scripts/serve`` itself, the test
  suite, benchmarks, commands that change the machine.
- ```` ```json output ```` (any language, then ``output``) right after a runnable block
  is what that block prints on stdout, all of it: ``…`` stands for any text (or none),
  and whitespace is not compared.
- ``# -> 201`` at the end of a command: each HTTP answer curl gets in that command has
  that status. Without it an answer of 400 or more fails the command.

The first runnable block of every guide under docs/ is the same set-up (the test holds
them equal): the served instance gets the ``LIFECYCLE_*`` variables it exports. A guide
without it (README.md) gets what ``./scripts/serve`` configures when nothing is set, its
demo token. The instance is ``lifecycle serve`` on a free port (``127.0.0.1:8000`` in the
blocks is replaced with it), on SQLite in a scratch directory where the blocks run, as
they would in the repository's root: the SQLite file the set-up names
(``./lifecycle.db`` by default) is there, ``docs`` links to the repository's, and
``lifecycle`` is on the PATH. Commands are split as bash would read them (continued
lines, quotes across lines); here-documents are not supported.

Besides, every route a guide names (``GET /v1/...``) must be one the service serves, and
the audit guide's verification script must be the one in docs/.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from lifecycle_server import OPS_SECRET, LifecycleServer

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
GUIDES = [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]
RUNNABLE = {"sh", "bash", "shell"}
GUIDE_SECONDS = 60.0
"""How long one guide may take, all its blocks together."""
SERVED_ADDRESSES = ("127.0.0.1:8000", "localhost:8000")
UNDOCUMENTED_ROUTES = {
    ("GET", "/metrics"): "/metrics",
    ("GET", "/problems"): "/problems",
    ("GET", "/problems/{slug}"): "/problems/not-found",
}
"""Routes the service serves outside its OpenAPI document, each with a path that shows it."""
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>.*)$")
ROUTE = re.compile(r"\b(GET|HEAD|POST|PUT|PATCH|DELETE)\s+(/(?:\{[^}]*\}|[^\s`?#)|{])*)")
CONTINUED = ("\\", "|", "&&", "||")
"""How a line that the next one continues ends."""
STATUS = re.compile(r"->\s*(\d{3})\b")


# --- reading a guide ---------------------------------------------------------------------------


@dataclass
class Command:
    line: int
    text: str
    status: str = ""
    """The HTTP status the guide states for the command's answers (``# -> 201``)."""


@dataclass
class Block:
    line: int
    """The line of the opening fence, 1-based."""
    info: list[str]
    text: str
    expected: Block | None = None
    """The output block that follows it."""
    commands: list[Command] = field(default_factory=list)

    @property
    def runnable(self) -> bool:
        return bool(self.info) and self.info[0] in RUNNABLE and "no-run" not in self.info[1:]

    @property
    def output(self) -> bool:
        return "output" in self.info[1:]


def blocks_of(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, each output block attached to the runnable
    block right before it."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        body: list[str] = []
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            body.append(lines[end][indent:] if lines[end][:indent].strip() == "" else lines[end])
            end += 1
        block = Block(index + 1, opening["info"].split(), "\n".join(body) + "\n")
        if block.output:
            before = found[-1] if found else None
            assert before is not None and before.runnable and before.expected is None, (
                f"{path.name}:{block.line}: an output block must follow a runnable block"
            )
            before.expected = block
        found.append(block)
        index = end + 1
    for block in found:
        if block.runnable:
            block.commands = commands_of(block.text, block.line + 1)
    return found


def commands_of(text: str, first_line: int) -> list[Command]:
    """The block's commands, each as a whole (continued lines and quotes spanning lines
    included), with the status its trailing ``# -> NNN`` comment states."""
    commands: list[Command] = []
    lines: list[str] = []
    quote = ""
    for number, line in enumerate(text.splitlines(), first_line):
        if not lines and not quote and (not line.strip() or line.lstrip().startswith("#")):
            continue
        lines.append(line)
        quote, comment = _scan(line, quote)
        if quote or (comment is None and line.rstrip().endswith(CONTINUED)):
            continue
        status = STATUS.search(comment or "")
        commands.append(
            Command(number - len(lines) + 1, "\n".join(lines), status.group(1) if status else "")
        )
        lines = []
    assert not lines, f"line {first_line}: a quote is never closed"
    return commands


def _scan(line: str, quote: str) -> tuple[str, str | None]:
    """The quote still open at the end of the line (``'``, ``"`` or none) and the line's
    comment, as bash reads them."""
    index = 0
    while index < len(line):
        char = line[index]
        if quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\":
            index += 1
        elif quote == '"':
            quote = "" if char == '"' else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t;"):
            return quote, line[index:]
        index += 1
    return quote, None


def runnable_guides() -> list[Path]:
    return [path for path in GUIDES if any(block.runnable for block in blocks_of(path))]


def name_of(path: Path) -> str:
    return str(path.relative_to(REPOSITORY))


# --- running a guide ---------------------------------------------------------------------------

PRELUDE = r"""
set -euo pipefail
__guide_at() { printf '%s' "$1" > "$GUIDE_STATE/at"; printf '%s' "$2" > "$GUIDE_STATE/expect"; }
curl() {
    local headers body status expected rc=0
    headers=$(mktemp "$GUIDE_STATE/headers.XXXXXX"); body=$(mktemp "$GUIDE_STATE/body.XXXXXX")
    command curl --dump-header "$headers" "$@" > "$body" || rc=$?
    cat "$body"
    status=$(sed -n 's/^HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' "$headers" | tail -n 1)
    expected=$(cat "$GUIDE_STATE/expect")
    if [[ -n "$expected" && "$status" != "$expected" ]]; then
        echo "curl was answered ${status:-nothing}; the guide says $expected. The answer:" >&2
        head -c 2000 "$body" >&2; rc=1
    elif [[ -z "$expected" && "${status:-0}" -ge 400 ]]; then
        echo "curl was answered $status, and the guide states no status. The answer:" >&2
        head -c 2000 "$body" >&2; rc=1
    fi
    rm -f "$headers" "$body"
    return "$rc"
}
"""


def script_of(blocks: list[Block], port: int) -> str:
    """The guide's runnable blocks as one bash script: each block's stdout goes to
    ``$GUIDE_STATE/out.<line>``, and before each command the script notes where it is."""
    parts = [PRELUDE]
    for block in blocks:
        if not block.runnable:
            continue
        parts.append("{")
        for command in block.commands:
            text = command.text
            for address in SERVED_ADDRESSES:
                text = text.replace(address, f"127.0.0.1:{port}")
            parts.append(f"__guide_at {command.line} {shlex.quote(command.status)}")
            parts.append(text)
        parts.append(f'}} > "$GUIDE_STATE/out.{block.line}"')
    return "\n".join(parts) + "\n"


def setup_of(blocks: list[Block]) -> Block | None:
    """The guide's set-up: its first runnable block, when that exports ``LIFECYCLE_*``."""
    first = next((block for block in blocks if block.runnable), None)
    return first if first is not None and "export LIFECYCLE_" in first.text else None


def settings_of(blocks: list[Block], scratch: Path) -> dict[str, str]:
    """The ``LIFECYCLE_*`` variables the guide's set-up exports, or what ``./scripts/serve``
    sets when there is none; as ``LifecycleServer`` takes them."""
    setup = setup_of(blocks)
    settings: dict[str, str] = {}
    if setup is not None:
        exported = subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{setup.text}\nenv -0"],
            cwd=scratch,
            env=clean_environment(),
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout.decode()
        settings = {
            key.removeprefix("LIFECYCLE_").lower(): value
            for key, _, value in (item.partition("=") for item in exported.split("\0"))
            if key.startswith("LIFECYCLE_")
        }
    else:
        serve = (REPOSITORY / "scripts" / "serve").read_text()
        demo = re.search(r'LIFECYCLE_API_TOKENS="([^"]+)"', serve)
        assert demo is not None, "scripts/serve configures no demo token"
        settings["api_tokens"] = demo.group(1)
    settings.setdefault("clock", "system")
    return settings


def database_of(settings: dict[str, str], scratch: Path) -> str:
    """The instance's database: the guide's SQLite file (``./lifecycle.db`` by default),
    in the scratch directory; a guide that names another store is not supported."""
    url = settings.pop("database_url", "sqlite:///./lifecycle.db")
    assert url.startswith("sqlite:///") and not url.startswith("sqlite:////"), url
    return f"sqlite:///{scratch / url.removeprefix('sqlite:///')}"


def clean_environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIFECYCLE_")}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    return environment


def matches(expected: str, actual: str) -> bool:
    """``actual`` is what ``expected`` shows, ``…`` standing for any text, whitespace aside."""
    pattern = ".*?".join(re.escape(re.sub(r"\s+", "", part)) for part in expected.split("…"))
    return re.fullmatch(pattern, re.sub(r"\s+", "", actual), re.DOTALL) is not None


def failure(guide: str, blocks: list[Block], state: Path, reason: str) -> str:
    """Where the run stopped: the guide, the block and the command, and why."""
    noted = state / "at"
    at = int(noted.read_text()) if noted.exists() else 0
    for block in blocks:
        for command in block.commands:
            if command.line == at:
                return (
                    f"{guide}, the block at line {block.line}, the command at line {at}:\n"
                    f"{command.text}\n{reason}"
                )
    return f"{guide}, before its first command:\n{reason}"


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    directory = tmp_path / "guide"
    directory.mkdir()
    (directory / "docs").symlink_to(REPOSITORY / "docs")
    return directory


@pytest.mark.parametrize("guide", runnable_guides(), ids=name_of)
def test_the_commands_of_the_guide_run_as_written_and_print_what_it_shows(
    guide: Path, scratch: Path, serve: Callable[..., LifecycleServer]
) -> None:
    name = name_of(guide)
    blocks = blocks_of(guide)
    settings = settings_of(blocks, scratch)
    server = serve(database_of(settings, scratch), **settings)
    state = scratch.parent / "state"
    state.mkdir()
    script = scratch.parent / "guide.sh"
    script.write_text(script_of(blocks, server.port))
    try:
        ran = subprocess.run(
            ["bash", str(script)],
            check=False,
            cwd=scratch,
            capture_output=True,
            text=True,
            env={**clean_environment(), "GUIDE_STATE": str(state)},
            timeout=GUIDE_SECONDS,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            failure(name, blocks, state, f"still running after {GUIDE_SECONDS} s"), pytrace=False
        )
    runnable = [block for block in blocks if block.runnable]
    for block, following in zip(runnable, [*runnable[1:], None]):
        out = state / f"out.{block.line}"
        if ran.returncode != 0 and (
            following is None or not (state / f"out.{following.line}").exists()
        ):
            break  # the block that failed: what it printed is cut short
        if block.expected is not None:
            printed = out.read_text()
            if not matches(block.expected.text, printed):
                pytest.fail(
                    f"{name}, the block at line {block.line} printed what its output block at "
                    f"line {block.expected.line} does not show:\n--- shown ---\n"
                    f"{block.expected.text}--- printed ---\n{printed}",
                    pytrace=False,
                )
    if ran.returncode != 0:
        pytest.fail(
            failure(name, blocks, state, f"exit status {ran.returncode}:\n{ran.stderr[-3000:]}"),
            pytrace=False,
        )


# --- what the guides say ---------------------------------------------------------------------


def test_every_guide_with_commands_starts_from_the_same_set_up() -> None:
    guides = [path for path in runnable_guides() if path.parent.name == "docs"]
    setups = {name_of(path): setup_of(blocks_of(path)) for path in guides}
    assert all(setups.values()), [name for name, setup in setups.items() if setup is None]
    assert len({setup.text for setup in setups.values() if setup}) == 1, setups


def test_every_route_a_guide_names_is_one_the_service_serves(
    tmp_path: Path, serve: Callable[..., LifecycleServer]
) -> None:
    server = serve(f"sqlite:///{tmp_path / 'lifecycle.db'}")
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        openapi = http.get("/openapi.json").json()
        for (method, _), probe in UNDOCUMENTED_ROUTES.items():
            answer = http.request(method, probe, headers={"Authorization": f"Bearer {OPS_SECRET}"})
            assert answer.status_code == 200, (method, probe, answer.status_code)
    served = {
        (method.upper(), _shape(path))
        for path, operations in openapi["paths"].items()
        for method in operations
    }
    served |= {(method, _shape(path)) for method, path in UNDOCUMENTED_ROUTES}
    served |= {("HEAD", path) for method, path in served if method == "GET"}
    unknown = [
        f"{name_of(guide)}:{number}: {method} {path}"
        for guide in GUIDES
        for number, line in enumerate(guide.read_text(encoding="utf-8").splitlines(), 1)
        for method, path in ROUTE.findall(line)
        if not any(_same_route(method, path, *route) for route in served)
    ]
    assert not unknown, "\n".join(unknown)


def test_the_verification_script_the_audit_guide_shows_is_the_one_in_docs() -> None:
    shown = [
        block.text
        for block in blocks_of(REPOSITORY / "docs" / "audit.md")
        if block.info == ["python"]
    ]
    assert shown == [(REPOSITORY / "docs" / "verify_export.py").read_text()]


def _shape(path: str) -> tuple[str, ...]:
    """A path's segments, a ``{parameter}`` (or ``$VARIABLE``) as ``*``."""
    return tuple(
        "*" if part.startswith(("{", "$", "<")) else part
        for part in path.rstrip("/.,:;").split("/")
    )


def _same_route(method: str, path: str, served_method: str, served: tuple[str, ...]) -> bool:
    named = _shape(path)
    return (
        method == served_method
        and len(named) == len(served)
        and all(a == b or "*" in (a, b) for a, b in zip(named, served))
    )
