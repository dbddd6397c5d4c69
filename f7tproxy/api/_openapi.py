"""/openapi.json generated from the routes and their attrs models; Swagger UI and ReDoc pages.

Each route declares what it takes and answers with `@operation(...)`; the
document is built from the app's URL map and those declarations when first
asked for. The UI pages load their JavaScript from this server (packaged
assets: PyPI `openapi-ui-bundles`, for Swagger UI and ReDoc alike), never from a CDN.
"""

from __future__ import annotations

import importlib
import importlib.resources
import mimetypes
import pathlib
import re
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import attrs
from quart import Blueprint, Response, current_app, request

from .._version import __version__
from ..errors import NotFound
from ._auth import public
from ._context import runtime
from ._wire import SchemaRegistry

F = TypeVar("F", bound=Callable[..., object])
_KEY = "_f7t_operation"

APP_VERSION = "2.x.x"
"""Sent as `F7T-AppVersion` and `info.version`, as FirecREST does: pyfirecrest then keeps
its own API level (2.6.0) and enables every feature it has."""


@attrs.frozen
class Param:
    """A query parameter or header."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False


@attrs.frozen
class Operation:
    summary: str
    tag: str
    firecrest: str
    """The name of FirecREST's handler: the operationId is built from it as FastAPI builds FirecREST's."""
    status: int = 200
    response: Any = None
    """The success answer's model: a class, `bytes`, `str`, or the name of a class in `_models`."""
    body: type | str | None = None
    """The request body's model: a class, or the name of a class in `_models`."""
    form: bool = False
    """The body is multipart form data (a file upload), not JSON."""
    query: tuple[Param, ...] = ()
    description: str = ""
    headers: tuple[Param, ...] = ()
    media_type: str = "application/json"
    """The success answer's media type (`text/event-stream` for the event streams)."""


def operation(
    summary: str,
    *,
    tag: str,
    firecrest: str | None = None,
    status: int = 200,
    response: Any = None,
    body: type | str | None = None,
    form: bool = False,
    query: tuple[Param, ...] = (),
    headers: tuple[Param, ...] = (),
    description: str = "",
    media_type: str = "application/json",
) -> Callable[[F], F]:
    """Declare a view's OpenAPI operation: FirecREST's handler name (`firecrest`; f7tproxy's own
    operations leave it out and use the view's name), success `status` and `response` model,
    `body` model (JSON, or multipart with `form`), `query` parameters; `media_type` of the answer.
    A model given by name is a class of `_models`, imported only when the document is first built
    (FirecREST's schemas are some 100 attrs classes: about 10 ms of every start otherwise)."""

    def mark(view: F) -> F:
        name = firecrest or str(getattr(view, "__name__", "operation"))
        setattr(view, _KEY, Operation(summary, tag, name, status, response, body, form, query, description,
                                      headers, media_type))  # fmt: skip
        return view

    return mark


@attrs.frozen
class ApiResponseError:
    """FirecREST's error body."""

    message: str
    error_type: Literal["error", "validation"] = "error"
    """`error`, or `validation` when `data.fields` lists the fields at fault."""
    data: dict[str, Any] | None = None
    user: str | None = None
    """The authenticated user's name, when the error came after authentication."""
    caused_by: list[str] | None = None


_PATH_VAR = re.compile(r"<(?:[a-z_]+:)?([a-z_]+)>")
_DOC_NAMES = {"system": "system_name"}
"""Path parameters named in the document as FirecREST names them (the routes' own names are shorter)."""


def _template(rule: str) -> str:
    return _PATH_VAR.sub(lambda m: "{" + _DOC_NAMES.get(m.group(1), m.group(1)) + "}", rule)


def operation_id(name: str, path: str, method: str) -> str:
    """FastAPI's operationId, as in FirecREST's document: handler name, path and method, with
    every character other than a letter, digit or `_` made `_`."""
    return re.sub(r"\W", "_", f"{name}{path}") + f"_{method.lower()}"


def _param(where: str, p: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": p.name, "in": where, "required": p.required, "schema": p.schema}
    if p.description:
        out["description"] = p.description
    return out


def _models() -> Any:
    return importlib.import_module("._models", __package__)


def _model(model: Any) -> Any:
    """A model as declared: a class, or the name of one in `_models`."""
    return getattr(_models(), model) if isinstance(model, str) else model


def _operation(op: Operation, path: str, method: str, variables: list[str], registry: SchemaRegistry,
               error: dict[str, Any], public: bool) -> dict[str, Any]:  # fmt: skip
    params = [{"name": v, "in": "path", "required": True, "schema": {"type": "string"}} for v in variables]
    params += [_param("query", p) for p in op.query] + [_param("header", p) for p in op.headers]
    ok: dict[str, Any] = {"description": op.summary}
    if op.response is bytes:
        ok["content"] = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    elif op.response is not None:
        ok["content"] = {op.media_type: {"schema": registry.schema(_model(op.response))}}
    entry: dict[str, Any] = {
        "summary": op.summary,
        "operationId": operation_id(op.firecrest, path, method),
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
        kind = "multipart/form-data" if op.form else "application/json"
        entry["requestBody"] = {"required": True, "content": {kind: {"schema": registry.ref(_model(op.body))}}}
    if public:
        entry["security"] = []
    return entry


def _security_schemes(token_url: str | None) -> dict[str, Any]:
    schemes: dict[str, Any] = {"HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    if token_url is not None:
        schemes["APIAuthDependency"] = {
            "type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": token_url, "scopes": {}}},
        }  # fmt: skip
    return schemes


def build_document(app: Any, *, token_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route that declared an operation, in FirecREST's terms
    (its operationIds, schema names, path parameter names); `token_url` is the IdP's OAuth2 token
    endpoint, declared as FirecREST's client-credentials scheme when known."""
    registry = SchemaRegistry(name=_models().schema_name)
    error = registry.ref(ApiResponseError)
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        op: Operation | None = getattr(view, _KEY, None)
        if op is None:
            continue
        path = _template(rule.rule)
        variables = [_DOC_NAMES.get(v, v) for v in _PATH_VAR.findall(rule.rule)]
        public = getattr(view, "_f7t_public", False)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(op, path, method, variables, registry, error,
                                                                    public)  # fmt: skip
    schemes = _security_schemes(token_url)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "f7tproxy",
            "version": APP_VERSION,
            "description": f"A FirecREST v2 compatible gateway (f7tproxy {__version__}).",
        },
        "paths": paths,
        "components": {"schemas": registry.components, "securitySchemes": schemes},
        "security": [{name: []} for name in reversed(schemes)],
    }


docs = Blueprint("docs", __name__)


@docs.get("/openapi.json")
@public
async def openapi_json() -> dict[str, Any]:
    """The API description, generated from the code."""
    app = current_app
    token_url = runtime().auth.token_url
    cached = app.config.get("F7T_OPENAPI")
    if cached is None or cached[0] != token_url:  # the IdP's token URL may be learnt after start
        cached = app.config["F7T_OPENAPI"] = (token_url, build_document(app, token_url=token_url))
    return cached[1]


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
