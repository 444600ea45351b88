"""The API's documentation pages (/docs, /redoc) work on a network without internet
access: every script, style sheet and icon they use is served by the service itself,
and the browser is told to load none from anywhere else."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
URL_IN_TEXT = re.compile(r"""(?:https?:)?//[^\s"'`<>()]+""")
"""An absolute or scheme-relative URL written anywhere in a page (scripts and styles too)."""


class References(HTMLParser):
    """Every URL an HTML page names in an attribute (src, href, spec-url, ...) and in
    its inline text (scripts, styles)."""

    def __init__(self) -> None:
        super().__init__()
        self.attributes: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name in ("src", "href", "action") or name.endswith("-url")):
                self.attributes.append(value)

    def handle_data(self, data: str) -> None:
        self.inline.extend(URL_IN_TEXT.findall(data))

    def handle_comment(self, data: str) -> None:
        self.inline.extend(URL_IN_TEXT.findall(data))


def references(html: str) -> References:
    found = References()
    found.feed(html)
    found.close()
    return found


@pytest.mark.parametrize("page", PAGES)
def test_a_docs_page_names_no_other_host_and_every_asset_it_names_is_served(
    client: TestClient, page: str
) -> None:
    answered = client.get(page)  # no token: the docs are public

    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"].startswith("text/html")
    named = references(answered.text)
    assert named.inline == [], f"{page} writes URLs into its text: {named.inline}"
    for reference in named.attributes:
        url = urlsplit(urljoin(f"http://testserver{page}", reference))
        assert (url.scheme, url.netloc) == ("http", "testserver"), f"{page} names {reference}"
        asset = client.get(url.path)
        assert asset.status_code == 200, (reference, asset.status_code, asset.text[:200])
        assert len(asset.content) > 1000, reference
    if page != "/docs/oauth2-redirect":
        kinds = {client.get(urlsplit(r).path).headers["content-type"] for r in named.attributes}
        assert any(kind.startswith("text/javascript") for kind in kinds), kinds
    if page == "/docs":
        assert any(kind.startswith("text/css") for kind in kinds), kinds


@pytest.mark.parametrize("page", PAGES)
def test_a_docs_page_lets_the_browser_load_scripts_styles_images_and_fonts_only_from_the_service(
    client: TestClient, page: str
) -> None:
    policy = client.get(page).headers.get("content-security-policy", "")

    directives = {
        name: sources
        for name, *sources in (part.split() for part in policy.split(";") if part.strip())
    }
    assert directives.get("default-src") == ["'self'"], policy
    allowed = {"'self'", "'unsafe-inline'", "data:", "blob:"}
    for name in ("script-src", "style-src", "img-src", "font-src", "worker-src"):
        assert set(directives.get(name, ["'self'"])) <= allowed, (name, policy)


def test_an_unknown_docs_asset_is_a_not_found_problem(client: TestClient) -> None:
    answered = client.get("/docs/assets/settings.py")

    assert answered.status_code == 404
    assert answered.headers["content-type"].startswith("application/problem+json")


# --- in a browser ------------------------------------------------------------------------

BROWSER = shutil.which("chromium-headless-shell") or shutil.which("chromium")
"""Debian's headless Chromium (``./scripts/test`` installs it where it can)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``lifecycle serve`` on a SQLite file; its base URL."""
    folder = tmp_path_factory.mktemp("docs-server")
    port = _free_port()
    env = {
        **os.environ,
        "LIFECYCLE_DATABASE_URL": f"sqlite:///{folder / 'lifecycle.db'}",
        "LIFECYCLE_API_TOKENS": "docs:docs-secret-0123456789:views",
        "LIFECYCLE_LOG_LEVEL": "WARNING",
    }
    stderr = folder / "stderr.log"
    with stderr.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=output,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):  # up to about 30 s to start
                assert process.poll() is None, stderr.read_text()
                try:
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                pytest.fail(f"the server did not start:\n{stderr.read_text()}")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


REQUESTED_URL = re.compile(r'"url":"([^"]+)"')
BLOCKED_URL = re.compile(r"'((?:https?|wss?)://[^']+)'")


def render(url: str, folder: Path) -> tuple[str, set[str], str]:
    """The page's DOM once its scripts have run, the URLs the browser requested, and
    the browser's console (CSP violations are reported there). Every host name but the
    loopback address fails to resolve, as on a network without internet access."""
    net_log = folder / "net-log.json"
    assert BROWSER is not None
    shown = subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            f"--user-data-dir={folder / 'profile'}",
            f"--log-net-log={net_log}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    # The net log is JSON, written as the browser goes; every URL it requested is in it.
    requested = set(REQUESTED_URL.findall(net_log.read_text(encoding="utf-8")))
    return shown.stdout, requested, shown.stderr


@pytest.mark.parametrize(
    ("page", "rendered"),
    [("/docs", 'class="opblock'), ("/redoc", 'id="tag/')],
    ids=["swagger-ui", "redoc"],
)
def test_a_docs_page_renders_the_operations_in_a_browser_without_any_request_to_another_host(
    served: str, tmp_path: Path, page: str, rendered: str
) -> None:
    assert BROWSER is not None, (
        "no headless Chromium: ./scripts/test installs chromium-headless-shell as root;"
        " elsewhere install it (apt-get install chromium-headless-shell)"
    )
    dom, requested, console = render(served + page, tmp_path)

    assert rendered in dom, dom[-2000:]
    assert "/v1/plans" in dom  # an operation of the document is shown
    elsewhere = {
        url
        for url in requested
        if urlsplit(url).hostname not in ("127.0.0.1", None)
        and urlsplit(url).scheme in ("http", "https", "ws", "wss")
    }
    assert elsewhere == set(), elsewhere
    assert any(url.startswith(served) for url in requested), requested
    # The policy blocks what would come from elsewhere (ReDoc's vendor logo), nothing of
    # the service's own.
    for line in console.splitlines():
        if "Content Security Policy" in line:
            blocked = {urlsplit(url).hostname for url in BLOCKED_URL.findall(line)}
            assert blocked and "127.0.0.1" not in blocked, line
