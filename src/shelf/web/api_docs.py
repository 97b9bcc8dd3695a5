"""The interactive API reference at ``/docs``, served from the package: no CDN, works offline.

FastAPI's page starts Swagger UI with one inline ``<script>``. Rather than loosening the page policy
with ``'unsafe-inline'``, the page is rendered once when the app is built and its Content Security
Policy allows exactly that script by its SHA-256 hash; any other inline script stays blocked.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from shelf.gateway.security import inline_script_hashes, page_content_security_policy

ASSETS = "/docs/assets"


def install_api_docs(app: FastAPI) -> None:
    page = bytes(
        get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Shelf API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        ).body
    )
    policy = page_content_security_policy(inline_script_hashes(page.decode()))

    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})

    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")
    app.add_api_route("/docs", swagger_ui, include_in_schema=False, response_class=HTMLResponse)


SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`shelf_...`) or a JWT access token from `POST /api/v1/auth/token`.",
    },
    "consoleSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "shelf_session",
        "description": "The admin console's session; changes also need the `X-CSRF-Token` header.",
    },
}


def describe_security(app: FastAPI) -> None:
    """Declare Shelf's credentials in the OpenAPI document. Authentication happens in a gateway
    middleware, not in route dependencies, so FastAPI cannot infer them; every operation accepts
    either credential, and public reads accept none (the empty requirement)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            schema["security"] = [{"bearer": []}, {"consoleSession": []}, {}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise
