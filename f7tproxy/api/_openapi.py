"""/openapi.json generated from the routes and their attrs models; Swagger UI and ReDoc pages.

Each route declares what it takes and answers with `@operation(...)`; the
document is built from the app's URL map and those declarations when first
asked for. The UI pages load their JavaScript from this server (packaged
assets: PyPI `openapi-ui-bundles`, for Swagger UI and ReDoc alike), never from a CDN.
"""

from __future__ import annotations

import importlib.resources
import mimetypes
import pathlib
import re
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
from quart import Blueprint, Response, current_app, request

from .._version import __version__
from ..errors import NotFound
from ._auth import public
from ._wire import SchemaRegistry

F = TypeVar("F", bound=Callable[..., object])
_KEY = "_f7t_operation"

APP_VERSION = "2.x.x"
"""Sent as `F7T-AppVersion` and `info.version`, as FirecREST does: pyfirecrest then keeps
its own API level (2.6.0) and enables every feature it has."""


@attrs.frozen
class Param:
    """A query parameter."""

    name: str
    schema: dict[str, Any]
    description: str = ""


@attrs.frozen
class Operation:
    summary: str
    tag: str
    status: int = 200
    response: Any = None
    body: type | None = None
    query: tuple[Param, ...] = ()
    description: str = ""
    headers: tuple[Param, ...] = ()
    auth: bool = True
    media_type: str = "application/json"


def operation(
    summary: str,
    *,
    tag: str,
    status: int = 200,
    response: Any = None,
    body: type | None = None,
    query: tuple[Param, ...] = (),
    headers: tuple[Param, ...] = (),
    description: str = "",
    media_type: str = "application/json",
) -> Callable[[F], F]:
    """Declare a view's OpenAPI operation: success `status` and `response` model (of `media_type`),
    `body`, `query`."""

    def mark(view: F) -> F:
        op = Operation(summary, tag, status, response, body, query, description, headers, media_type=media_type)
        setattr(view, _KEY, op)
        return view

    return mark


@attrs.frozen
class ApiResponseError:
    """FirecREST's error body."""

    message: str
    error_type: str = "error"
    """`error`, or `validation` when `data.fields` lists the fields at fault."""
    data: dict[str, Any] | None = None
    user: str | None = None


_PATH_VAR = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")


def build_document(app: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route that declared an operation."""
    registry = SchemaRegistry()
    error = registry.ref(ApiResponseError)
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        op: Operation | None = getattr(view, _KEY, None)
        if op is None:
            continue
        path = _PATH_VAR.sub(r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            params = [
                {"name": v, "in": "path", "required": True, "schema": {"type": "string"}}
                for v in _PATH_VAR.findall(rule.rule)
            ]
            params += [
                {"name": p.name, "in": "query", "required": False, "schema": p.schema, "description": p.description}
                for p in op.query
            ]
            params += [
                {"name": p.name, "in": "header", "required": False, "schema": p.schema, "description": p.description}
                for p in op.headers
            ]
            ok: dict[str, Any] = {"description": op.summary}
            if op.response is not None:
                ok["content"] = {op.media_type: {"schema": registry.schema(op.response)}}
            entry: dict[str, Any] = {
                "summary": op.summary,
                "operationId": f"{method.lower()}_{rule.endpoint.replace('.', '_')}",
                "tags": [op.tag],
                "parameters": params,
                "responses": {
                    str(op.status): ok,
                    "4XX": {"description": "Client error", "content": {"application/json": {"schema": error}}},
                    "5XX": {"description": "Server error", "content": {"application/json": {"schema": error}}},
                },
            }
            if op.description:
                entry["description"] = op.description
            if op.body is not None:
                entry["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": registry.ref(op.body)}},
                }
            if getattr(view, "_f7t_public", False):
                entry["security"] = []
            paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "f7tproxy",
            "version": APP_VERSION,
            "description": f"A FirecREST v2 compatible gateway (f7tproxy {__version__}).",
        },
        "paths": paths,
        "components": {
            "schemas": registry.components,
            "securitySchemes": {"HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"HTTPBearer": []}],
    }


docs = Blueprint("docs", __name__)


@docs.get("/openapi.json")
@public
async def openapi_json() -> dict[str, Any]:
    """The API description, generated from the code."""
    app = current_app
    document = app.config.get("F7T_OPENAPI")
    if document is None:
        document = app.config["F7T_OPENAPI"] = build_document(app)
    return document


def _page(title: str, body: str) -> Response:
    html = (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{title}</title>"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>"
        f"<body>{body}</body></html>\n"
    )
    return Response(html, content_type="text/html; charset=utf-8")


def _base() -> str:
    return request.root_path.rstrip("/")


@docs.get("/docs")
@public
async def swagger_ui() -> Response:
    """Swagger UI on /openapi.json."""
    base = _base()
    return _page(
        "f7tproxy - Swagger UI",
        f'<link rel="stylesheet" href="{base}/docs/assets/swagger-ui.css">'
        '<div id="swagger-ui"></div>'
        f'<script src="{base}/docs/assets/swagger-ui-bundle.js"></script>'
        "<script>window.ui = SwaggerUIBundle({"
        f'url: "{base}/openapi.json", dom_id: "#swagger-ui", queryConfigEnabled: false'
        "});</script>",
    )


@docs.get("/redoc")
@public
async def redoc() -> Response:
    """ReDoc on /openapi.json."""
    base = _base()
    return _page(
        "f7tproxy - ReDoc",
        f'<redoc spec-url="{base}/openapi.json"></redoc>'
        f'<script src="{base}/redoc/assets/redoc.standalone.js"></script>',
    )


def _asset_dirs() -> dict[str, Any]:
    bundles = importlib.resources.files("openapi_ui_bundles")
    return {"docs": bundles / "swagger_ui" / "vendor", "redoc": bundles / "redoc" / "vendor"}


_ASSETS = {
    "docs": {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"},
    "redoc": {"redoc.standalone.js"},
}


@docs.get("/<any(docs, redoc):ui>/assets/<name>")
@public
async def asset(ui: str, name: str) -> Response:
    """The UIs' JavaScript and CSS, from installed packages."""
    if name not in _ASSETS[ui]:
        raise NotFound("Not Found")
    data = (_asset_dirs()[ui] / name).read_bytes()
    kind = mimetypes.guess_type(pathlib.PurePath(name).name)[0] or "application/octet-stream"
    response = Response(data, content_type=kind)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
