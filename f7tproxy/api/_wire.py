"""FirecREST's JSON from attrs classes and back: camelCase names, JSON Schema, request validation.

One set of classes gives the answers (`to_wire`), the request checks
(`from_wire`) and /openapi.json (`SchemaRegistry`), so the three cannot drift.
A field's wire name is its camelCase name; `aliases` in its metadata adds
names accepted on input (FirecREST accepts snake_case and camelCase alike).
"""

from __future__ import annotations

import ast
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union

import attrs

from ..errors import ValidationFailed


def camel(name: str) -> str:
    """`working_directory` -> `workingDirectory`."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def wire_name(field: attrs.Attribute[Any]) -> str:
    return str(field.metadata.get("wire", camel(field.name)))


def wire_fields(cls: type) -> list[attrs.Attribute[Any]]:
    """The fields of attrs class `cls` that are on the wire (metadata `internal` keeps one off it)."""
    return [f for f in attrs.fields(cls) if not f.metadata.get("internal")]


def to_wire(value: Any) -> Any:
    """`value` as JSON-ready data with FirecREST's camelCase names."""
    if attrs.has(type(value)):
        return {wire_name(f): to_wire(getattr(value, f.name)) for f in wire_fields(type(value))}
    if isinstance(value, Mapping):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Docstrings written under attrs fields (the string literal after each annotation),
    inherited ones included."""
    docs: dict[str, str] = {}
    for base in reversed(cls.__mro__[1:]):
        if attrs.has(base):
            docs.update(field_docs(base))
    try:
        tree = ast.parse(inspect.getsource(cls))
    except (OSError, TypeError, SyntaxError):
        return docs
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node, after in zip(body, [*body[1:], None], strict=True):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


# --------------------------------------------------------------------------- schema


class SchemaRegistry:
    """JSON Schemas (OpenAPI 3.1) of attrs classes, collected under components/schemas."""

    def __init__(self, *, name: Callable[[type], str] = lambda cls: cls.__name__) -> None:
        self.components: dict[str, Any] = {}
        self._name = name

    def ref(self, cls: type) -> dict[str, Any]:
        name = self._name(cls)
        if name not in self.components:
            self.components[name] = {}  # placeholder: recursion stops here
            self.components[name] = self._object(cls)
        return {"$ref": f"#/components/schemas/{name}"}

    def _object(self, cls: type) -> dict[str, Any]:
        props: dict[str, Any] = {}
        required: list[str] = []
        docs = field_docs(cls)
        for f in wire_fields(cls):
            schema = dict(self.schema(hints(cls)[f.name]))
            if f.name in docs:
                schema["description"] = docs[f.name]
            if isinstance(f.default, str | int | float | bool) and "$ref" not in schema:
                schema["default"] = f.default
            props[wire_name(f)] = schema
            if f.default is attrs.NOTHING:
                required.append(wire_name(f))
        out: dict[str, Any] = {"title": self._name(cls), "type": "object", "properties": props}
        if required:
            out["required"] = required
        if cls.__doc__:
            out["description"] = inspect.cleandoc(cls.__doc__).split("\n\n")[0]
        return out

    def schema(self, tp: Any) -> dict[str, Any]:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if tp is type(None):
            return {"type": "null"}
        if tp is Any:
            return {}
        if origin in (Union, types.UnionType):
            return {"anyOf": [self.schema(a) for a in args]}
        if origin is Literal:
            return {"type": "string", "enum": list(args)}
        if origin in (list, tuple) or tp in (list, tuple):
            item = args[0] if args else Any
            return {"type": "array", "items": self.schema(item)}
        if origin is dict or tp is dict:
            value = args[1] if len(args) == 2 else Any
            return {"type": "object", "additionalProperties": self.schema(value)}
        if isinstance(tp, type) and attrs.has(tp):
            return self.ref(tp)
        if tp is bytes:
            return {"type": "string", "format": "binary"}
        simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
        if tp in simple:
            return {"type": simple[tp]}
        raise TypeError(f"no JSON Schema for {tp!r}")


# --------------------------------------------------------------------------- requests


def invalid(location: str, name: str, message: str) -> ValidationFailed:
    """The 400 (errorType "validation") for one bad field; `data.fields` names it."""
    return ValidationFailed(
        f"{location} `{name}`: {message}", data={"fields": [{"location": location, "name": name, "message": message}]}
    )


class _Problems:
    def __init__(self) -> None:
        self.fields: list[dict[str, str]] = []

    def add(self, location: str, name: str, message: str) -> None:
        self.fields.append({"location": location, "name": name, "message": message})


def from_wire(cls: type, data: Any, *, location: str = "body", prefix: str = "") -> Any:
    """An instance of attrs class `cls` from JSON `data`, or ValidationFailed with every field error.

    Unknown keys are ignored, as FirecREST does. A field is found under its
    camelCase name, its snake_case name or one of its `aliases`.
    """
    problems = _Problems()
    value = _convert(cls, data, problems, location, prefix)
    if problems.fields:
        raise ValidationFailed("Invalid request", data={"fields": problems.fields})
    return value


_MISSING = object()


def _convert(tp: Any, data: Any, problems: _Problems, location: str, name: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options:
            trial = _Problems()
            value = _convert(option, data, trial, location, name)
            if not trial.fields:
                return value
        if len(options) == 1:
            return _convert(options[0], data, problems, location, name)
        problems.add(location, name, f"expected {' or '.join(_describe(o) for o in options)}")
        return None
    if isinstance(tp, type) and attrs.has(tp):
        if not isinstance(data, dict):
            problems.add(location, name or "body", "expected an object")
            return None
        kwargs: dict[str, Any] = {}
        for f in attrs.fields(tp):
            names = [wire_name(f), f.name, *f.metadata.get("aliases", ())]
            raw = next((data[n] for n in names if n in data), _MISSING)
            child = f"{name}.{wire_name(f)}" if name else wire_name(f)
            if raw is _MISSING:
                if f.default is attrs.NOTHING:
                    problems.add(location, child, "Field required")
                continue
            kwargs[f.name] = _convert(hints(tp)[f.name], raw, problems, location, child)
        if problems.fields:
            return None
        try:
            return tp(**kwargs)
        except ValueError as exc:  # attrs validators on the request class
            problems.add(location, name or "body", str(exc))
            return None
    if origin is Literal:
        if data not in args:
            problems.add(location, name, f"expected one of {', '.join(map(repr, args))}")
        return data
    if origin is list or origin is tuple:
        if not isinstance(data, list):
            problems.add(location, name, "expected a list")
            return None
        items = [_convert(args[0], x, problems, location, f"{name}[{i}]") for i, x in enumerate(data)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(data, dict):
            problems.add(location, name, "expected an object")
            return None
        return {k: _convert(args[1], v, problems, location, f"{name}.{k}") for k, v in data.items()}
    if tp is str:
        if not isinstance(data, str):
            problems.add(location, name, "expected a string")
        elif "\0" in data:
            problems.add(location, name, "must not contain NUL characters")
        return data
    if tp is bool:
        if not isinstance(data, bool):
            problems.add(location, name, "expected true or false")
        return data
    if tp is int:
        if not isinstance(data, int) or isinstance(data, bool):
            problems.add(location, name, "expected an integer")
        return data
    if tp is Any:
        return data
    raise TypeError(f"cannot read {tp!r}")


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is dict:
        return "an object"
    if origin in (list, tuple):
        return "a list"
    return {str: "a string", int: "an integer", bool: "a boolean"}.get(tp, getattr(tp, "__name__", str(tp)))


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def query_value(args: Mapping[str, str], name: str) -> str | None:
    """Query parameter `name` (its first value), or None if absent.

    Looked up with `in` first: werkzeug's `MultiDict.get` finds an absent key by raising
    and catching a BadRequestKeyError (an HTTPException), and most optional flags are absent.
    """
    return args[name] if name in args else None


def query_bool(args: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A boolean query parameter (`true`/`false`, as httpx sends them). Raises ValidationFailed."""
    raw = query_value(args, name)
    if raw is None or raw == "":
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise invalid("query", name, "expected true or false")


def query_str(args: Mapping[str, str], name: str, *, max_length: int | None = None) -> str | None:
    """A string query parameter. Raises ValidationFailed if longer than `max_length`."""
    raw = query_value(args, name)
    if raw is None:
        return None
    if max_length is not None and len(raw) > max_length or "\0" in raw:
        raise invalid("query", name, f"at most {max_length} characters, no NUL")
    return raw


__all__ = ["SchemaRegistry", "camel", "from_wire", "query_bool", "query_str", "query_value", "to_wire"]
