"""The typed configuration: frozen attrs classes, one per YAML section.

Every field has a default a small site can keep, unless the site must decide
(a cluster's host, its known_hosts file, its credentials). Durations are
seconds, sizes are bytes. The string under each field is its documentation;
`conf/example.yaml` shows every section with comments.
"""

from __future__ import annotations

import pathlib
import posixpath
import re
from collections.abc import Callable
from typing import Any, Literal

import attrs

from ._secret import Secret

MiB = 1024 * 1024

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_POSIX_USER = re.compile(r"[a-z_][a-z0-9_.-]*[$]?")
# OpenFGA ids are ULIDs; openfga-sdk refuses anything else, so refuse it at start.
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")


def is_posix_user_name(name: str) -> bool:
    """Whether `name` is a portable POSIX user name (lower case, at most 32 characters)."""
    return bool(_POSIX_USER.fullmatch(name)) and len(name) <= 32


REFUSED_USERS = (
    "root", "toor", "daemon", "bin", "sys", "adm", "sync", "shutdown", "halt", "operator",
    "nobody", "sshd", "slurm", "munge",
)  # fmt: skip
"""The default of `auth.refused_users`."""
USERNAME_PATTERN = r"[a-z_][a-z0-9_.-]{0,31}"
"""The default of `auth.username_pattern`."""


class FieldProblem(ValueError):
    """A field's value fails its validator; the loader adds `field` to the key path."""

    def __init__(self, field: str, text: str) -> None:
        super().__init__(f"{field}: {text}")
        self.field = field
        self.text = text


def _check(test: Callable[[Any], bool], text: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def validate(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not test(value):
            raise FieldProblem(attr.name, text.format(value=value))

    return validate


_positive = _check(lambda x: x > 0, "must be greater than 0, got {value!r}")
_non_negative = _check(lambda x: x >= 0, "must be 0 or more, got {value!r}")
_port = _check(lambda x: 0 <= x <= 65535, "expected a port number (0-65535), got {value!r}")
_abs_posix_path = _check(
    lambda x: x.startswith("/") and posixpath.normpath(x) == x,
    "expected an absolute, normalised path, got {value!r}",
)
_cluster_name = _check(
    lambda x: bool(_NAME.fullmatch(x)),
    "expected a lower-case name of letters, digits, '.', '_' or '-', got {value!r}",
)
_posix_user = _check(
    is_posix_user_name,
    "expected a POSIX user name, got {value!r}",
)
_ulid = _check(lambda x: bool(_ULID.fullmatch(x)), "expected an OpenFGA id (a ULID), got {value!r}")
_url = _check(lambda x: bool(re.fullmatch(r"https?://[^/\s]+(?:/\S*)?", x)), "expected an http(s) URL, got {value!r}")


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern, re.ASCII)
    except re.error:
        return False
    return True


_regex = _check(_compiles, "expected a regular expression, got {value!r}")
_names = _check(lambda x: all(x), "names must not be empty, got {value!r}")
_min_part = _check(lambda x: x >= 5 * MiB, "must be at least 5 MiB (S3's smallest part), got {value!r}")


# --------------------------------------------------------------------------- server


@attrs.frozen
class ServerConfig:
    """How f7tproxy listens."""

    bind: str = "127.0.0.1"
    """Address the HTTP API binds to."""
    port: int = attrs.field(default=8000, validator=_port)
    """TCP port of the HTTP API (0 picks a free port, for tests)."""
    admin_socket: pathlib.Path = pathlib.Path("/run/f7tproxy/admin.sock")
    """Unix socket (created with mode 0600) that the admin dashboard reads."""
    shutdown_grace: float = attrs.field(default=10.0, validator=_non_negative)
    """On SIGTERM/SIGINT, how long in-flight requests may take before they are cancelled."""
    root_path: str = ""
    """URL prefix when f7tproxy sits behind a reverse proxy under a sub-path (FirecREST's apis_root_path)."""
    public_url: str | None = attrs.field(default=None, validator=_url)
    """The URL clients use to reach f7tproxy; defaults to http://<bind>:<port>."""
    drain_delay: float = attrs.field(default=0.0, validator=_non_negative)
    """On SIGTERM, how long `/status/liveness/` answers 503 while requests are still served, before
    the listener closes: long enough for a load balancer's health check to take the replica out
    (HAProxy `inter` x `fall`, plus a margin). 0 for a single process."""


# --------------------------------------------------------------------------- auth


@attrs.frozen
class OpenFgaConfig:
    """Authorization of each /{system}/ call with an OpenFGA Check."""

    url: str = attrs.field(validator=_url)
    """Base URL of the OpenFGA HTTP API."""
    store_id: str = attrs.field(validator=_ulid)
    """The OpenFGA store holding the relations (a ULID)."""
    authorization_model_id: str | None = attrs.field(default=None, validator=_ulid)
    """Pin a model id; default is the store's latest model."""
    api_token: Secret | None = None
    """Bearer token for the OpenFGA API, if it requires one."""
    relation: str = "member"
    """Relation checked between `user:<name>` and the system object."""
    object: str = "vcluster:{system}"
    """The system object; `{system}` is replaced by the system name."""
    timeout: float = attrs.field(default=1.0, validator=_positive)
    """Deadline of one Check; past it the request gets 503, never an allow."""
    cache_ttl: float = attrs.field(default=10.0, validator=_non_negative)
    """How long a decision is reused (0 disables the cache)."""


@attrs.frozen
class DemoClient:
    """A client of the demo token issuer (client-credentials grant)."""

    client_id: str
    """OAuth2 client id."""
    secret: Secret
    """OAuth2 client secret."""
    username: str = attrs.field(validator=_posix_user)
    """POSIX user name put in the token's username claim."""


@attrs.frozen
class DemoIssuerConfig:
    """A built-in OAuth2 token issuer for demos and tests. Never enable it in production."""

    enabled: bool = False
    """Serve /auth/token, /auth/jwks and OIDC discovery, signing with a key generated at start."""
    clients: tuple[DemoClient, ...] = ()
    """The clients that may get tokens."""
    token_ttl: float = attrs.field(default=300.0, validator=_positive)
    """Lifetime of issued tokens."""
    audience: str = "f7tproxy"
    """The `aud` of issued tokens."""
    key_file: pathlib.Path | None = None
    """PEM file of the RSA key to sign with (unset: a key generated at start). Replicas behind a
    load balancer share one, and one `server.public_url`, so that a token from any is valid on all."""


@attrs.frozen
class AuthConfig:
    """How bearer tokens are validated and calls authorized."""

    issuer: str | None = None
    """Expected `iss`; also where OIDC discovery looks when jwks_url is not set. Unset: `iss` is not checked."""
    audiences: tuple[str, ...] = ()
    """Accepted `aud` values; empty: `aud` is not checked."""
    jwks_url: str | None = attrs.field(default=None, validator=_url)
    """URL of the IdP's JWKS; unset: found through `<issuer>/.well-known/openid-configuration`."""
    username_claims: tuple[str, ...] = ("preferred_username", "username")
    """Claims tried in order for the user name; a name that is not a POSIX user name is 401."""
    refused_users: tuple[str, ...] = attrs.field(default=REFUSED_USERS, validator=_names)
    """User names never served, whatever the IdP puts in a token: 403 before any SSH, pool or
    OpenFGA work (in `ssh_ca` mode f7tproxy would otherwise sign a certificate for `root`). The
    default is root and common system accounts; a list given replaces it, so keep those in it and add
    the site's own (the scheduler's, services')."""
    username_pattern: str = attrs.field(default=USERNAME_PATTERN, validator=_regex)
    """A regular expression (Python syntax, ASCII classes) the whole user name must match, else 403.
    The default takes lower-case POSIX names of at most 32 characters without a trailing `$`
    (machine accounts)."""
    algorithms: tuple[str, ...] = (
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    )  # fmt: skip
    """Accepted signature algorithms (asymmetric only by default; `none` is never accepted)."""
    leeway: float = attrs.field(default=30.0, validator=_non_negative)
    """Clock skew allowed on `exp`, `nbf` and `iat`."""
    jwks_timeout: float = attrs.field(default=5.0, validator=_positive)
    """Deadline for fetching discovery and JWKS documents."""
    jwks_refetch_interval: float = attrs.field(default=30.0, validator=_non_negative)
    """At most one JWKS refetch per this many seconds on unknown `kid`s."""
    jwks_refresh_interval: float = attrs.field(default=3600.0, validator=_positive)
    """Keys are re-read this often in the background, so a key the IdP withdraws stops being accepted."""
    token_cache_entries: int = attrs.field(default=10000, validator=_non_negative)
    """Validated tokens remembered (by their SHA-256), each until its `exp` or until its key leaves
    the JWKS; 0: every request checks its token's signature and claims again."""
    openfga: OpenFgaConfig | None = None
    """Optional OpenFGA authorization."""
    demo_issuer: DemoIssuerConfig = DemoIssuerConfig()
    """Optional built-in token issuer (demos and tests only)."""

    def refuses(self, name: str) -> str | None:
        """The setting that refuses user `name` (`refused_users`, `username_pattern`), or None."""
        if name in self.refused_users:
            return "refused_users"
        # re caches compiled patterns: no need to keep one here.
        if not re.fullmatch(self.username_pattern, name, re.ASCII):
            return "username_pattern"
        return None


# --------------------------------------------------------------------------- ssh


@attrs.frozen
class SshCaCredentials:
    """f7tproxy signs a short-lived certificate per user with a CA the cluster trusts."""

    mode: Literal["ssh_ca"]
    ca_key: Secret
    """The CA private key (OpenSSH format), typically ``{file: /etc/f7tproxy/user_ca}``."""
    cert_ttl: float = attrs.field(default=3600.0, validator=_positive)
    """Validity of each user certificate."""
    renew_before: float = attrs.field(default=300.0, validator=_non_negative)
    """A certificate closer than this to expiry is not used for new connections."""


@attrs.frozen
class ClientCredentials:
    """An OAuth2 client of the IdP (client-credentials grant): how f7tproxy gets a token of its own."""

    token_url: str = attrs.field(validator=_url)
    """The IdP's token endpoint."""
    client_id: str
    """The client's id."""
    client_secret: Secret
    """The client's secret, typically ``{file: /etc/f7tproxy/service_account_secret}``."""
    auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    """How the secret is sent: HTTP Basic (the OAuth2 default) or in the form body."""


@attrs.frozen
class SshServiceCredentials:
    """The user's JWT is POSTed to a key service that returns a certificate (FirecREST's SSHService)."""

    mode: Literal["ssh_service"]
    url: str = attrs.field(validator=_url)
    """Base URL of the key service (`POST {url}/api/v1/ssh-keys`)."""
    timeout: float = attrs.field(default=5.0, validator=_positive)
    """Deadline of one key request (and of one token request for the service account)."""
    renew_before: float = attrs.field(default=10.0, validator=_non_negative)
    """A returned certificate is reused for new connections until this close to its expiry."""
    service_account_client: ClientCredentials | None = None
    """The IdP client of the cluster's `service_account`. Health probes have no user's token:
    they get one for the service account with this client (as FirecREST does) and send it to the
    key service. Required when a service_account runs ssh, scheduler or filesystem probes."""


@attrs.frozen
class StaticKey:
    """A configured key for one user."""

    private_key: Secret
    """The private key (OpenSSH or PEM format)."""
    certificate: pathlib.Path | None = None
    """Optional OpenSSH certificate file for the key."""
    passphrase: Secret | None = None
    """Passphrase of the private key, if any."""


@attrs.frozen
class StaticKeysCredentials:
    """A configured key per user (small sites, tests)."""

    mode: Literal["static_keys"]
    keys: dict[str, StaticKey] = attrs.field(factory=dict)
    """User name to key."""


Credentials = SshCaCredentials | SshServiceCredentials | StaticKeysCredentials
CREDENTIAL_MODES: dict[str, type[Credentials]] = {
    "ssh_ca": SshCaCredentials,
    "ssh_service": SshServiceCredentials,
    "static_keys": StaticKeysCredentials,
}


@attrs.frozen
class PoolConfig:
    """Limits and timeouts of the per-user SSH connection pool."""

    sessions_per_connection: int = attrs.field(default=9, validator=_positive)
    """Channels used at once on one connection; keep it at most sshd's MaxSessions - 1."""
    max_connections_per_user: int = attrs.field(default=4, validator=_positive)
    """Connections one user may hold to this cluster."""
    max_connections: int = attrs.field(default=256, validator=_positive)
    """Connections all users together may hold to this cluster."""
    lease_timeout: float = attrs.field(default=10.0, validator=_positive)
    """How long a request waits for a free channel before it gets 429 with Retry-After (the user's
    burst outran the pool; clients retry). 503 is for an unreachable or unhealthy cluster."""
    idle_timeout: float = attrs.field(default=60.0, validator=_positive)
    """An unused connection is closed after this long."""
    keepalive_interval: float = attrs.field(default=15.0, validator=_positive)
    """Seconds between SSH keepalives, which detect dead connections."""
    keepalive_count_max: int = attrs.field(default=3, validator=_positive)
    """Unanswered keepalives after which a connection is dropped."""
    connect_timeout: float = attrs.field(default=5.0, validator=_positive)
    """Deadline for the TCP connect and SSH handshake."""
    login_timeout: float = attrs.field(default=5.0, validator=_positive)
    """Deadline for authentication."""
    command_timeout: float = attrs.field(default=30.0, validator=_positive)
    """Default deadline of one remote command (also enforced remotely with `timeout`)."""


@attrs.frozen
class SshConfig:
    """How to reach the cluster's login node."""

    host: str
    """Login node host name or address."""
    known_hosts: pathlib.Path
    """OpenSSH known_hosts file; the host key is always verified against it."""
    credentials: Credentials
    """How users log in: `mode` is ssh_ca, ssh_service or static_keys."""
    port: int = attrs.field(default=22, validator=_port)
    """sshd port."""
    pool: PoolConfig = PoolConfig()
    """Connection pool limits and timeouts."""
    runner: Literal["auto", "off"] = "auto"
    """How commands run. `auto` (the default): each channel slot keeps one persistent runner
    (a `python3` process started on its channel, its code sent over it; nothing is installed)
    and runs each command as its child, without an sshd session per command. Whether the
    login node can start one is found out once per connection, on its first command: where
    it cannot (no `python3`), that connection runs a channel per command instead, with the
    reason logged and counted in `f7tproxy_ssh_runner_fallbacks_total`. `off`: every command
    opens its own channel, and the login node's sshd starts a session for it. On the 2-core
    testbed `auto` cut the login node's CPU per command by about a fifth (README: SSH to the
    clusters). In YAML write `"off"` quoted: a bare off is read as false."""


# --------------------------------------------------------------------------- cluster


@attrs.frozen
class BreakerConfig:
    """The circuit breaker in front of a cluster's SSH login node: fail fast while it is unreachable.

    The breaker opens after `failures` consecutive connection failures (failed connects,
    dropped connections, channels refused on a closed connection) or one failed ssh
    health probe. While open, requests that need SSH get 503 with Retry-After at once and
    requests already waiting for a connection are answered the same way; after
    `retry_after` seconds one trial connection is let through (half-open), and one
    success (a connect, a command, a healthy probe) closes it again.
    """

    failures: int = attrs.field(default=3, validator=_positive)
    """Consecutive connection failures that open the breaker."""
    retry_after: float = attrs.field(default=2.0, validator=_positive)
    """Seconds the breaker stays open before a trial connection; also the Retry-After given to clients."""
    probe_interval: float = attrs.field(default=1.0, validator=_positive)
    """Seconds between health probes of a service while it is unhealthy or its breaker is open
    (instead of the probes' `interval`), so recovery is seen within about this long."""
    stall_after: float = attrs.field(default=1.0, validator=_positive)
    """A remote command running longer than this wakes the cluster's health probes (at most once per
    `stall_recheck` seconds): a hung login node or scheduler makes commands hang, not fail, and
    the probes (each bounded by its timeout) tell which part it is, so the gates close in seconds."""
    stall_recheck: float = attrs.field(default=5.0, validator=_positive)
    """Seconds between probe runs woken by slow commands."""


@attrs.frozen
class SchedulerConfig:
    """The batch scheduler, driven through its command line over SSH."""

    type: Literal["slurm", "pbs"] = "slurm"
    """Scheduler kind."""
    timeout: float = attrs.field(default=10.0, validator=_positive)
    """Deadline of one scheduler command."""
    version: str | None = None
    """Version shown in /status/systems (informational)."""
    lookup_window: float = attrs.field(default=0.005, validator=_non_negative)
    """Lookups of single jobs (`jobs/{id}`, `jobs/{id}/metadata`) of one user arriving within this many
    seconds of the first are answered by one `squeue`/`sacct` for all their ids; the first waits this long."""
    lookup_batch: int = attrs.field(default=50, validator=_positive)
    """At most this many job ids in one batched lookup (1: no batching)."""


@attrs.frozen
class CacheConfig:
    """How long slow-changing answers are reused, in seconds (0: never; every request asks the cluster).

    Concurrent requests for the same answer share one remote command whatever the times.
    """

    nodes: float = attrs.field(default=10.0, validator=_non_negative)
    """Compute nodes (states, loads and free memory change fastest: keep this short)."""
    partitions: float = attrs.field(default=30.0, validator=_non_negative)
    """Partitions (queues)."""
    reservations: float = attrs.field(default=30.0, validator=_non_negative)
    """Advance reservations."""
    userinfo: float = attrs.field(default=30.0, validator=_non_negative)
    """A user's uid, groups and scheduler accounts (always per user)."""
    names: float = attrs.field(default=60.0, validator=_non_negative)
    """Owner and group names of listed files (uid and gid to name; one for all users). 0: none
    kept, every listing looks its owners' names up with getent."""
    max_entries: int = attrs.field(default=1000, validator=_positive)
    """Answers kept per kind (nodes, partitions, ...); the oldest go first."""
    shared: bool = False
    """Keep one answer for nodes, partitions and reservations for all users, instead of one per
    user. Only where every user sees the same ones (Slurm: no `PrivateData=nodes`, `partitions`
    or `reservations`)."""


@attrs.frozen
class FileSystemConfig:
    """A file system users may work in through the API."""

    path: str = attrs.field(validator=_abs_posix_path)
    """Absolute, normalised mount point."""
    data_type: Literal["users", "store", "archive", "apps", "scratch", "project"] = "users"
    """FirecREST's data type."""
    default_work_dir: bool = False
    """Jobs without a working directory run here (at most one per cluster)."""


@attrs.frozen
class S3StagingConfig:
    """S3-compatible store for large transfers (presigned multipart URLs and a staging job)."""

    private_url: str = attrs.field(validator=_url)
    """Endpoint f7tproxy and the cluster use."""
    public_url: str = attrs.field(validator=_url)
    """Endpoint put into presigned URLs handed to clients."""
    access_key_id: Secret
    """S3 access key id."""
    secret_access_key: Secret
    """S3 secret key."""
    region: str = "us-east-1"
    """S3 region."""
    url_ttl: float = attrs.field(default=604800.0, validator=_positive)
    """Validity of presigned URLs."""
    max_part_size: int = attrs.field(default=1024 * MiB, validator=_min_part)
    """Largest part of a multipart upload (S3 requires at least 5 MiB)."""
    object_expiry_days: int = attrs.field(default=10, validator=_positive)
    """Staged objects expire after this many days (bucket lifecycle rule)."""
    max_waiting_uploads: int = attrs.field(default=4, validator=_positive)
    """Staged uploads one user may have waiting on this system at once (each holds a staging job
    until its file is complete in the store); past it, `transfer/upload` answers 429 with Retry-After."""
    first_part_wait: float = attrs.field(default=600.0, validator=_positive)
    """How long an upload's staging job waits for the client's first part; past it the job ends,
    aborting the multipart upload, so an upload never sent does not hold a node for long."""
    upload_wait: float = attrs.field(default=86400.0, validator=_positive)
    """How long an upload's staging job waits at most for the client to complete its upload
    (never longer than `url_ttl`, when its URLs stop working)."""


@attrs.frozen
class ProbeConfig:
    """One health probe."""

    timeout: float = attrs.field(default=10.0, validator=_positive)
    """Deadline of the probe; past it the service is unhealthy."""


def _default_probes() -> dict[str, ProbeConfig]:
    return {name: ProbeConfig() for name in ("ssh", "scheduler", "filesystem", "s3")}


@attrs.frozen
class ProbesConfig:
    """Health probes of a cluster's services."""

    interval: float = attrs.field(default=60.0, validator=_positive)
    """Seconds between probe runs."""
    services: dict[Literal["ssh", "scheduler", "filesystem", "s3"], ProbeConfig] = attrs.field(
        factory=_default_probes
    )
    """Probes to run; a service left out is not probed and never gated (s3 runs only with staging)."""


@attrs.frozen
class ClusterConfig:
    """One cluster (FirecREST "system")."""

    name: str = attrs.field(validator=_cluster_name)
    """System name used in URLs."""
    ssh: SshConfig
    """How to reach it."""
    description: str = ""
    """Free text shown to operators."""
    scheduler: SchedulerConfig = SchedulerConfig()
    """The batch scheduler."""
    service_account: str | None = attrs.field(default=None, validator=_posix_user)
    """User the health probes run as; unset: probes needing a user are skipped."""
    file_systems: tuple[FileSystemConfig, ...] = ()
    """File systems exposed through the API; paths outside them are refused."""
    max_ops_file_size: int = attrs.field(default=5 * MiB, validator=_positive)
    """Largest file handled inline (view, upload, download); larger ones go through transfers."""
    transfer_directives: tuple[str, ...] = ()
    """Extra scheduler directives for transfer jobs, e.g. '#SBATCH --time=0-00:15:00'."""
    staging: S3StagingConfig | None = None
    """S3 staging store for large transfers; unset: large transfers are not offered."""
    probes: ProbesConfig = ProbesConfig()
    """Health probes."""
    cache: CacheConfig = CacheConfig()
    """How long nodes, partitions, reservations and user information are reused."""
    breaker: BreakerConfig = BreakerConfig()
    """Fail fast while the login node is unreachable."""


@attrs.frozen
class EventsConfig:
    """Job state and job output pushed as Server-Sent Events (`GET .../jobs/{id}/events` and `/output`).

    One watcher per (system, user) serves all of that user's open streams: per `interval`
    it runs one scheduler query for all the jobs they watch and one read per followed
    output file, however many listeners there are.
    """

    interval: float = attrs.field(default=3.0, validator=_positive)
    """Seconds between a watcher's polls of the scheduler and of the output files."""
    fast_interval: float = attrs.field(default=1.0, validator=_positive)
    """Seconds between polls while a watched job was submitted through f7tproxy less than
    `fast_window` seconds ago (a new job starts and ends quickly; its client wants to know)."""
    fast_window: float = attrs.field(default=30.0, validator=_non_negative)
    """How long after a submit its job is polled every `fast_interval`."""
    keepalive: float = attrs.field(default=15.0, validator=_positive)
    """Seconds of silence after which a stream sends a comment line, so proxies keep it open."""
    max_streams_per_user: int = attrs.field(default=64, validator=_positive)
    """Streams one user may have open at once (all systems); past it, 429 with Retry-After."""
    max_line_length: int = attrs.field(default=4096, validator=_positive)
    """Longest output line sent as one event (bytes); a longer line is sent in pieces of this size."""
    read_chunk: int = attrs.field(default=1024 * 1024, validator=_positive)
    """Most bytes one read of an output file takes; a file further behind is read again at once."""
    first_event_timeout: float = attrs.field(default=30.0, validator=_positive)
    """How long a new stream waits for its job's first answer from the watcher before it is refused."""


# --------------------------------------------------------------------------- top level


@attrs.frozen
class LoggingConfig:
    """Logging: the process log (text), the access log and the audit log (JSON lines)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level written to the process log (standard error)."""
    access_log: pathlib.Path | None = None
    """File the access log (one JSON line per request) is appended to; unset: standard error."""
    audit_log: pathlib.Path | None = None
    """File the audit log (one JSON line per remote command) is appended to; unset: standard error."""


_metrics_path = _check(
    lambda x: x.startswith("/") and posixpath.normpath(x) == x and "<" not in x,
    "expected an absolute URL path such as /metrics, got {value!r}",
)


@attrs.frozen
class MetricsConfig:
    """Prometheus metrics."""

    enabled: bool = True
    """Serve metrics in Prometheus text format."""
    path: str = attrs.field(default="/metrics", validator=_metrics_path)
    """URL path of the metrics (under server.root_path); never authenticated by the API's tokens."""
    token: Secret | None = None
    """If set, scrapes must send ``Authorization: Bearer <token>``; unset: open to anyone who can connect."""


@attrs.frozen
class RateRule:
    """A token bucket: `burst` requests at once, refilled at `rate` requests per second."""

    rate: float = attrs.field(validator=_positive)
    """Requests per second allowed on average."""
    burst: int = attrs.field(validator=_positive)
    """Requests allowed at once after a quiet period (the bucket's size)."""


@attrs.frozen
class RateLimitConfig:
    """Rate limits, answered with 429, Retry-After and RateLimit-* headers. Unset rules do not limit."""

    per_user: RateRule | None = None
    """Each authenticated user, over all systems."""
    per_system: RateRule | None = None
    """Each system (`{system}` in the URL), over all users."""
    per_user_system: RateRule | None = None
    """Each (user, system) pair."""
    per_client: RateRule | None = None
    """Each client address, for every request to a limited route, taken before the token is checked,
    so floods of bad tokens are refused too. Behind a reverse proxy every request comes from the
    proxy's address: leave it unset there, or set it above all users' rates together."""
    users: dict[str, RateRule] = attrs.field(factory=dict)
    """Per-user overrides of `per_user` (service accounts, heavy workflow engines)."""
    systems: dict[str, RateRule] = attrs.field(factory=dict)
    """Per-system overrides of `per_system`."""
    exempt: tuple[str, ...] = ("/status/liveness/",)
    """Route templates never limited (the metrics path always is); load balancers poll liveness."""


_redis_url = _check(
    lambda x: bool(re.fullmatch(r"(rediss?://[^/\s]+(?:/\d+)?|unix:///\S+)", x)),
    "expected redis://host:port[/db], rediss://... or unix:///path, got {value!r}",
)


@attrs.frozen
class RedisConfig:
    """A Redis (or Valkey) server shared by every replica."""

    url: str = attrs.field(validator=_redis_url)
    """Where it listens: ``redis://host:port[/db]`` (``rediss://`` for TLS) or ``unix:///path``."""
    timeout: float = attrs.field(default=0.25, validator=_positive)
    """Deadline of every call, connecting included (seconds); past it the call counts as failed."""
    key_prefix: str = "f7t:"
    """Prefix of every key f7tproxy writes (several deployments may share one server)."""


@attrs.frozen
class SharedStateConfig:
    """State shared by replicas behind a load balancer. Unset: everything stays in the process."""

    redis: RedisConfig | None = None
    """Keep the rate-limit buckets, the recent-submit records (read-your-writes, Idempotency-Key
    replay) and the job event streams' numbered states (Last-Event-ID resumed on any replica) in
    this Redis. Unreachable: rate limits fall back to this process's buckets, submits to its own
    records and streams to its own numbers, with a warning and `f7tproxy_shared_state_failures_total`."""


@attrs.frozen
class Config:
    """The whole configuration of one f7tproxy process."""

    auth: AuthConfig = AuthConfig()
    """Token validation and authorization."""
    server: ServerConfig = ServerConfig()
    """Listening addresses and shutdown."""
    clusters: tuple[ClusterConfig, ...] = ()
    """The clusters served."""
    logging: LoggingConfig = LoggingConfig()
    """Logging."""
    metrics: MetricsConfig = MetricsConfig()
    """Prometheus metrics."""
    rate_limit: RateLimitConfig = RateLimitConfig()
    """Rate limits per user, system and client."""
    events: EventsConfig = EventsConfig()
    """Job state and output pushed as Server-Sent Events."""
    shared_state: SharedStateConfig = SharedStateConfig()
    """State shared by replicas (Redis); unset: in-process only."""

    def cluster(self, name: str) -> ClusterConfig | None:
        """The cluster called `name` (case-insensitive), or None."""
        name = name.lower()
        return next((c for c in self.clusters if c.name == name), None)
