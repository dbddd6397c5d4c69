"""Loading YAML into `Config`: strict types, unknown keys refused, one line per problem.

Relative paths (known_hosts, certificate and secret files) are taken relative to
the directory of the YAML file that names them.
"""

from __future__ import annotations

import os
import pathlib
import typing
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import cattrs
import cattrs.cols
import cattrs.gen
import yaml  # type: ignore[import-untyped]  # no stubs in the pinned set
from cattrs.errors import ForbiddenExtraKeysError

from ..errors import ConfigError
from ._model import CREDENTIAL_MODES, ClusterConfig, Config, Credentials, FieldProblem, SshServiceCredentials
from ._secret import Secret


class _Problem(ValueError):
    """A value of the wrong shape; its text is shown after the key path."""


def _describe(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _strict(kind: type, accept: tuple[type, ...]) -> typing.Callable[[Any, Any], Any]:
    def structure(value: Any, _type: Any) -> Any:
        # bool is an int subclass: a YAML `true` must not pass as a port number.
        if isinstance(value, bool) and kind is not bool:
            raise _Problem(f"expected {kind.__name__}, got {value!r}")
        if not isinstance(value, accept):
            raise _Problem(f"expected {kind.__name__}, got {_describe(value)}")
        return kind(value)

    return structure


def _origin_is(origin: object) -> typing.Callable[[Any], bool]:
    """A cattrs predicate: the type is `origin[...]` (list[int], Literal["a"], ...)."""
    return lambda type_: typing.get_origin(type_) is origin


def _make_converter(base_dir: pathlib.Path) -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(str, _strict(str, (str,)))
    conv.register_structure_hook(int, _strict(int, (int,)))
    conv.register_structure_hook(float, _strict(float, (int, float)))
    conv.register_structure_hook(bool, _strict(bool, (bool,)))

    def path(value: Any, _type: Any) -> pathlib.Path:
        if not isinstance(value, str) or not value:
            raise _Problem(f"expected a path, got {_describe(value)}")
        return base_dir / pathlib.Path(value).expanduser()

    conv.register_structure_hook(pathlib.Path, path)

    def secret(value: Any, _type: Any) -> Secret:
        if isinstance(value, str):
            return Secret(value=value)
        if not isinstance(value, Mapping) or len(value) != 1:
            raise _Problem("expected a string, {file: PATH} or {env: NAME}")
        [(how, where)] = value.items()
        if how not in ("file", "env") or not isinstance(where, str):
            raise _Problem("expected a string, {file: PATH} or {env: NAME}")
        if how == "env":
            if where not in os.environ:
                raise _Problem(f"environment variable {where} is not set")
            return Secret(value=os.environ[where], source=f"env:{where}")
        file = base_dir / pathlib.Path(where).expanduser()
        try:
            text = file.read_text()
        except OSError as exc:
            raise _Problem(f"cannot read secret file {str(file)!r}: {exc.strerror}") from None
        # A trailing newline is an artefact of editors and `echo`, never part of a secret.
        return Secret(value=text.rstrip("\n"), source=f"file:{file}")

    conv.register_structure_hook(Secret, secret)

    def credentials(value: Any, _type: Any) -> Credentials:
        if not isinstance(value, Mapping):
            raise _Problem(f"expected a mapping, got {_describe(value)}")
        mode = value.get("mode", "ssh_ca")
        if mode not in CREDENTIAL_MODES:
            raise _Problem(f"mode: expected one of {', '.join(CREDENTIAL_MODES)}, got {mode!r}")
        return conv.structure({**value, "mode": mode}, CREDENTIAL_MODES[mode])

    conv.register_structure_hook(Credentials, credentials)

    def literal_factory(type_: Any) -> typing.Callable[[Any, Any], Any]:
        choices = typing.get_args(type_)

        def structure(value: Any, _t: Any) -> Any:
            if value not in choices or isinstance(value, bool):
                raise _Problem(f"expected one of {', '.join(map(str, choices))}, got {value!r}")
            return value

        return structure

    conv.register_structure_hook_factory(_origin_is(Literal), literal_factory)

    # Sequences, mappings and sections must really be lists and mappings: a string
    # is iterable, and without these guards `clusters: abc` would be three clusters.
    def guarded(
        accept: type | tuple[type, ...], what: str, factory: Any
    ) -> typing.Callable[[Any], typing.Callable[[Any, Any], Any]]:
        def make(type_: Any) -> typing.Callable[[Any, Any], Any]:
            inner = factory(type_, conv)

            def structure(value: Any, t: Any) -> Any:
                if not isinstance(value, accept):
                    raise _Problem(f"expected {what}, got {_describe(value)}")
                return inner(value, t)

            return structure

        return make

    conv.register_structure_hook_factory(
        _origin_is(list),
        guarded(list, "a list", cattrs.cols.list_structure_factory),
    )
    conv.register_structure_hook_factory(
        _origin_is(tuple),
        guarded(list, "a list", cattrs.cols.homogenous_tuple_structure_factory),
    )
    conv.register_structure_hook_factory(
        _origin_is(dict),
        guarded(Mapping, "a mapping", cattrs.cols.mapping_structure_factory),
    )
    conv.register_structure_hook_factory(
        attrs.has, guarded(Mapping, "a mapping", cattrs.gen.make_dict_structure_fn)
    )
    return conv



def _format(exc: BaseException, _type: Any) -> str:
    if isinstance(exc, KeyError):
        return "required key missing"
    if isinstance(exc, ForbiddenExtraKeysError):
        keys = ", ".join(repr(k) for k in sorted(exc.extra_fields))
        return f"unknown key{'s' if len(exc.extra_fields) > 1 else ''} {keys}"
    if isinstance(exc, FieldProblem):
        return f"{exc.field}\0{exc.text}"
    if isinstance(exc, (_Problem, ValueError, TypeError)) and str(exc):
        return str(exc)
    return f"invalid value ({type(exc).__name__}: {exc})"


def _key_path(message: str) -> tuple[str, str]:
    """Split cattrs' ``text @ $.a[0].b`` into ``('a[0].b', text)``."""
    text, _, where = message.rpartition(" @ $")
    field, _, text = text.rpartition("\0")
    where = f"{where}.{field}" if field else where
    return where.lstrip(".") or "(top level)", text


def _field_problems(value: Any, path: str) -> list[tuple[str, str]]:
    """Run every attrs validator in the tree under `value`, collecting all failures."""
    problems: list[tuple[str, str]] = []
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            where = f"{path}.{field.name}".lstrip(".")
            if field.validator is not None:
                try:
                    field.validator(value, field, item)
                except FieldProblem as exc:
                    problems.append((where, exc.text))
            problems += _field_problems(item, where)
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            problems += _field_problems(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            problems += _field_problems(item, f"{path}[{key!r}]")
    return problems


def _semantic_problems(config: Config) -> list[tuple[str, str]]:
    """Checks that span several fields; each problem is (key path, text)."""
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, cluster in enumerate(config.clusters):
        if cluster.name in seen:
            problems.append(
                (f"clusters[{i}].name", f"duplicate name {cluster.name!r} (also clusters[{seen[cluster.name]}])")
            )
        seen.setdefault(cluster.name, i)
        if not cluster.ssh.known_hosts.is_file():
            problems.append((f"clusters[{i}].ssh.known_hosts", f"no such file: {str(cluster.ssh.known_hosts)!r}"))
        problems += _probe_login_problems(cluster, f"clusters[{i}]")
        defaults = [fs.path for fs in cluster.file_systems if fs.default_work_dir]
        if len(defaults) > 1:
            problems.append(
                (f"clusters[{i}].file_systems", f"more than one default_work_dir: {', '.join(defaults)}")
            )
    auth = config.auth
    if auth.jwks_url is None and auth.issuer is None and not auth.demo_issuer.enabled:
        problems.append(("auth", "set jwks_url or issuer (for OIDC discovery), or enable demo_issuer"))
    if auth.demo_issuer.enabled and not auth.demo_issuer.clients:
        problems.append(("auth.demo_issuer.clients", "the demo issuer is enabled but has no clients"))
    key_file = auth.demo_issuer.key_file
    if auth.demo_issuer.enabled and key_file is not None and not key_file.is_file():
        problems.append(("auth.demo_issuer.key_file", f"no such file: {str(key_file)!r}"))
    if auth.demo_issuer.enabled and (auth.jwks_url is not None or auth.issuer is not None):
        problems.append(
            ("auth.demo_issuer", "an enabled demo issuer is the only token source: remove jwks_url and issuer")
        )
    if auth.demo_issuer.enabled and auth.audiences and auth.demo_issuer.audience not in auth.audiences:
        problems.append(
            ("auth.demo_issuer.audience", f"{auth.demo_issuer.audience!r} is not one of auth.audiences")
        )
    client_ids = [c.client_id for c in auth.demo_issuer.clients]
    for i, client_id in enumerate(client_ids):
        if client_id in client_ids[:i]:
            problems.append((f"auth.demo_issuer.clients[{i}].client_id", f"duplicate client id {client_id!r}"))
    if "none" in (a.lower() for a in auth.algorithms):
        problems.append(("auth.algorithms", "'none' is never an acceptable algorithm"))
    if not auth.username_claims:
        problems.append(("auth.username_claims", "name at least one claim"))
    for i, client in enumerate(auth.demo_issuer.clients):
        refused_by = auth.refuses(client.username)
        if refused_by is not None:
            where = f"auth.demo_issuer.clients[{i}].username"
            problems.append((where, f"{client.username!r} is refused by auth.{refused_by}"))
    problems += _ops_problems(config)
    return problems


def warnings(config: Config) -> list[str]:
    """What a valid configuration leaves open, one line each (``key path: text``).

    `check-config` prints these and the server logs them at start; they change no exit status.
    """
    auth = config.auth
    if auth.demo_issuer.enabled:
        return []  # its own issuer, and its audience unless audiences are set
    found: list[str] = []
    if auth.issuer is None:
        found.append("auth.issuer: not set, so `iss` is not checked: a token signed by any key of the "
                     "JWKS is accepted, whichever issuer made it")  # fmt: skip
    if not auth.audiences:
        found.append("auth.audiences: empty, so `aud` is not checked: a token the IdP issued for any "
                     "other service is accepted here too")  # fmt: skip
    return found


def _probe_login_problems(cluster: ClusterConfig, where: str) -> list[tuple[str, str]]:
    """ssh_service logins need a token; the health probes have no user's token to send."""
    creds = cluster.ssh.credentials
    ssh_probes = {"ssh", "scheduler", "filesystem"} & set(cluster.probes.services)
    if not isinstance(creds, SshServiceCredentials) or cluster.service_account is None or not ssh_probes:
        return []
    if creds.service_account_client is not None:
        return []
    return [(
        f"{where}.ssh.credentials.service_account_client",
        f"required: the {', '.join(sorted(ssh_probes))} probes run as service_account "
        f"{cluster.service_account!r}, and an ssh_service login needs a token for it from the IdP "
        "(token_url, client_id, client_secret); or unset service_account to skip those probes",
    )]


_API_PREFIXES = ("/status", "/compute", "/filesystem", "/auth", "/.well-known")


def _ops_problems(config: Config) -> list[tuple[str, str]]:
    """Checks of the metrics and rate-limit sections."""
    problems: list[tuple[str, str]] = []
    path = config.metrics.path
    if any(path == p or path.startswith(p + "/") for p in _API_PREFIXES):
        problems.append(("metrics.path", f"{path!r} is inside the API's own routes"))
    names = {c.name for c in config.clusters}
    for system in config.rate_limit.systems:
        if system not in names:
            problems.append((f"rate_limit.systems[{system!r}]", "no cluster of that name"))
    return problems


def from_mapping(data: Any, *, source: str = "<config>", base_dir: pathlib.Path | None = None) -> Config:
    """Structure an already-parsed mapping into a `Config`.

    Raises:
        ConfigError: with one line per problem, ``<source>: <key path>: <text>``.
    """
    if not isinstance(data, Mapping):
        raise ConfigError([f"{source}: (top level): expected a mapping, got {_describe(data)}"])
    conv = _make_converter(base_dir or pathlib.Path.cwd())
    try:
        # Validators run afterwards, all of them, so that every bad value is reported
        # and not just the first one of each section.
        with attrs.validators.disabled():
            config = conv.structure(data, Config)
    except Exception as exc:  # cattrs wraps everything it finds in one group
        lines = cattrs.transform_error(exc, path="$", format_exception=_format)
        raise ConfigError([f"{source}: {p}: {t}" for p, t in map(_key_path, lines)]) from None
    problems = _field_problems(config, "") or _semantic_problems(config)
    if problems:
        raise ConfigError([f"{source}: {p}: {t}" for p, t in problems])
    return config


def from_yaml(path: str | os.PathLike[str]) -> Config:
    """Read and validate a YAML configuration file.

    Raises:
        ConfigError: the file is unreadable, not YAML, or not a valid configuration.
    """
    file = pathlib.Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError([f"{file}: cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f"line {where.line + 1}: " if where is not None else ""
        raise ConfigError([f"{file}: {line}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    return from_mapping(data, source=str(file), base_dir=file.resolve().parent)
