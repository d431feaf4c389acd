"""``/docs``: Swagger UI served from this service's own files (no CDN).

FastAPI's default page loads Swagger UI from a CDN: a blank page offline, and a third
party's script on the origin where API keys are typed. Here the page, its initialiser
and Swagger UI's files (from the pinned ``fastapi-offline`` package, which ships them)
all come from the service, so the page works without a network and under the strict
Content-Security-Policy of ``serving.middleware`` (scripts from the service only: the
initialiser is a file, not an inline script; no validator badge is fetched).
"""

from __future__ import annotations

import html
import importlib.resources
from typing import Literal

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse

ASSETS = importlib.resources.files("fastapi_offline") / "static"
Asset = Literal["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"]
MEDIA = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
INIT_JS = """\
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.openapi,
  domNode: root,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  validatorUrl: null,
});
"""
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API documentation</title>
<link rel="icon" type="image/png" href="{root}/docs/assets/favicon.png">
<link rel="stylesheet" href="{root}/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="{root}{openapi}"></div>
<script src="{root}/docs/assets/swagger-ui-bundle.js"></script>
<script src="{root}/docs/init.js"></script>
</body>
</html>
"""
CACHE = {"Cache-Control": "public, max-age=86400"}


def install(app: FastAPI) -> None:
    """Serve the documentation page and its files on ``app`` (built with ``docs_url=None``)."""
    openapi = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = html.escape(request.scope.get("root_path", "").rstrip("/"))
        return HTMLResponse(PAGE.format(title=html.escape(app.title), root=root, openapi=openapi))

    @app.get("/docs/init.js", include_in_schema=False)
    async def init() -> Response:
        return Response(INIT_JS, media_type="text/javascript", headers=CACHE)

    files = {name: (ASSETS / name).read_bytes() for name in Asset.__args__}  # ~1.7 MB

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def asset(name: Asset) -> Response:
        media = MEDIA[name[name.rindex(".") :]]
        return Response(files[name], media_type=media, headers=CACHE)
