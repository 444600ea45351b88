"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, served with
their scripts, style sheet and icon from the service itself, so that they work on a
network without internet access. The assets are those the ``fastapi-offline`` package
ships (Swagger UI and ReDoc, refreshed with each of its releases); the pages' own HTML
is FastAPI's, pointed at them.

The pages also carry a ``Content-Security-Policy`` that lets the browser load scripts,
styles, images and fonts from the service alone: ReDoc's sidebar would otherwise fetch
its vendor's logo from a CDN."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
ASSETS_PATH = "/docs/assets"
"""Where the pages' assets are served (public, like the pages)."""

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
"""The assets by name, with their media types, each served at ``ASSETS_PATH/<name>``."""

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",  # Swagger UI is started by an inline script
        "style-src 'self' 'unsafe-inline'",  # both set styles from their scripts
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",  # ReDoc builds its search index in a worker
        # "Try it out" calls go wherever the document's servers say.
        "connect-src 'self' http: https:",
    )
)
ASSET_CACHE_SECONDS = 24 * 3600


def _asset_file(name: str) -> str:
    return str(resources.files("fastapi_offline").joinpath("static", name))


def install(app: FastAPI) -> None:
    """Add the pages and their assets to an app made with ``docs_url=None`` and
    ``redoc_url=None`` (FastAPI's own pages load their assets from a CDN)."""
    openapi_url = app.openapi_url or "/openapi.json"
    policy = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        page.headers.update(policy)
        return page

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        page.headers.update(policy)
        return page

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(policy)
        return page

    for name, media_type in ASSETS.items():
        app.add_api_route(
            f"{ASSETS_PATH}/{name}",
            _asset_route(name, media_type),
            methods=["GET"],
            name=f"docs_asset_{name}",
            include_in_schema=False,
        )


def _asset_route(name: str, media_type: str) -> Callable[[], Awaitable[FileResponse]]:
    async def docs_asset() -> FileResponse:
        return FileResponse(
            _asset_file(name),
            media_type=media_type,
            headers={"Cache-Control": f"public, max-age={ASSET_CACHE_SECONDS}"},
        )

    return docs_asset
