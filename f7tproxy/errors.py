"""The one exception tree of f7tproxy, and the one table that maps it to HTTP.

    F7tError                         every error f7tproxy raises on purpose
    ├── ConfigError                  the configuration cannot be used (never reaches HTTP)
    ├── SharedUnavailable            the shared state (Redis) failed: callers fall back (never reaches HTTP)
    └── ApiError                     an answer to a client: status, FirecREST errorType, message
        ├── BadRequest               400  malformed input
        │   └── ValidationFailed     400  field errors, errorType "validation"
        ├── Unauthorized             401  missing, forged or expired token
        ├── Forbidden                403  not allowed (OpenFGA or the cluster's permissions)
        ├── NotFound                 404  unknown system, job or path
        ├── RequestTimeout           408  a remote command ran past its deadline
        │   └── CommandTimeout       408    (the remote process was killed)
        ├── PayloadTooLarge          413  input or output past a configured size limit
        │   └── OutputTooLarge       413    a remote command's output passed its cap
        ├── BackendFailure           424  the cluster cannot be reached (SSH failed)
        │   ├── SshConnectFailed     424    TCP connect, handshake or timeout
        │   │   ├── HostKeyMismatch  424    host key not the one in known_hosts
        │   │   └── SshLoginRefused  424    the server refused the user's key
        │   ├── SshConnectionLost    424    the connection died during a command
        │   └── KeyServiceFailed     424    the ssh_service key service failed
        ├── RateLimited              429  too many requests (carries Retry-After)
        │   ├── TooManyUploads       429    a user's staged uploads waiting for the client are at the cap
        │   └── PoolBusy             429    the user's SSH channels stayed busy past the lease wait
        ├── InternalError            500  a bug or an unexpected remote answer
        ├── NotImplementedOnSystem   501  the system's scheduler cannot do this (PBS attach)
        └── ServiceUnavailable       503  unhealthy or unreachable backend, shutting down (Retry-After)
            └── CircuitOpen          503    the cluster is known unreachable: failed fast

`STATUS` below is the single table from exception class to (HTTP status, errorType).
Code raises the most specific class; the HTTP layer calls `error_body` and never
chooses a status code itself.
"""

from __future__ import annotations

from typing import Any

import attrs


class F7tError(Exception):
    """Base class of every error f7tproxy raises on purpose."""


class ConfigError(F7tError):
    """The configuration is unusable.

    `problems` holds one line per problem, each naming the file and key path.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class SharedUnavailable(F7tError):
    """A call to the shared state (Redis) failed or passed its deadline; callers use local state."""


class ApiError(F7tError):
    """An error that becomes an HTTP answer with FirecREST's error body."""

    def __init__(
        self,
        message: str,
        *,
        data: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        self.retry_after = retry_after


class BadRequest(ApiError):
    """The request is malformed."""


class ValidationFailed(BadRequest):
    """The request body or parameters fail validation; `data["fields"]` lists them."""


class Unauthorized(ApiError):
    """No valid bearer token; `challenge` is sent as the `WWW-Authenticate` header."""

    def __init__(self, message: str, *, challenge: str = "Bearer", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.challenge = challenge


class Forbidden(ApiError):
    """The user may not do this."""


class NotFound(ApiError):
    """The named system, job or path does not exist."""


class RequestTimeout(ApiError):
    """A remote command ran past its deadline."""


class CommandTimeout(RequestTimeout):
    """A remote command ran past its deadline; the remote process was killed."""


class PayloadTooLarge(ApiError):
    """Input or output is larger than a configured limit."""


class OutputTooLarge(PayloadTooLarge):
    """A remote command wrote more than its output cap; the remote process was killed."""


class BackendFailure(ApiError):
    """The cluster could not be reached or refused us."""


class SshConnectFailed(BackendFailure):
    """An SSH connection could not be opened (refused, unreachable, timed out, protocol error)."""


class HostKeyMismatch(SshConnectFailed):
    """The cluster's host key is not the one in the configured known_hosts; we did not connect."""


class SshLoginRefused(SshConnectFailed):
    """The cluster's sshd refused the user's key or certificate."""


class SshConnectionLost(BackendFailure):
    """An SSH connection died while a command ran on it (the command may have run)."""


class KeyServiceFailed(BackendFailure):
    """The ssh_service key service did not return a usable certificate."""


class RateLimited(ApiError):
    """The client sent too many requests."""


class TooManyUploads(RateLimited):
    """The user already has the most staged uploads allowed waiting on the system (carries Retry-After)."""


class PoolBusy(RateLimited):
    """Every SSH channel the user may have on the cluster stayed busy past the lease deadline.

    The user's own burst outran what the pool serves in that time: a 429 that
    clients retry after `retry_after` (pyfirecrest does), not a sign of an
    unhealthy cluster (that is ServiceUnavailable).
    """


class InternalError(ApiError):
    """Something went wrong that is not the client's fault."""


class NotImplementedOnSystem(ApiError):
    """The system's scheduler has no way to do what was asked."""


class ServiceUnavailable(ApiError):
    """The backend is unhealthy, unreachable or shutting down; try again after `retry_after` seconds."""


class CircuitOpen(ServiceUnavailable):
    """The cluster's circuit breaker is open (its login node is known unreachable): refused at once."""


@attrs.frozen
class ErrorKind:
    status: int
    error_type: str = "error"


STATUS: dict[type[ApiError], ErrorKind] = {
    BadRequest: ErrorKind(400),
    ValidationFailed: ErrorKind(400, "validation"),
    Unauthorized: ErrorKind(401),
    Forbidden: ErrorKind(403),
    NotFound: ErrorKind(404),
    RequestTimeout: ErrorKind(408),
    PayloadTooLarge: ErrorKind(413),
    BackendFailure: ErrorKind(424),
    RateLimited: ErrorKind(429),
    TooManyUploads: ErrorKind(429),
    PoolBusy: ErrorKind(429),  # a user's own burst: retried by clients, unlike 503
    InternalError: ErrorKind(500),
    NotImplementedOnSystem: ErrorKind(501),
    ServiceUnavailable: ErrorKind(503),
}


def kind_of(exc: ApiError) -> ErrorKind:
    """The status and errorType of `exc`, from its most specific class in `STATUS`."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return STATUS[InternalError]


def error_body(exc: ApiError, *, user: str | None = None) -> dict[str, Any]:
    """FirecREST's `ApiResponseError` body for `exc`; `user` is the authenticated user's name, if known.

    `causedBy` is always present, as in FirecREST, and null: the remote side's own words
    are already in `message`.
    """
    return {
        "errorType": kind_of(exc).error_type,
        "message": exc.message,
        "data": exc.data,
        "user": user,
        "causedBy": None,
    }
