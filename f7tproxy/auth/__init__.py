"""Authentication (bearer JWTs with joserfc) and authorization (OpenFGA) of API requests."""

from ._demo_issuer import DISCOVERY_PATH, JWKS_PATH, TOKEN_PATH, DemoIssuer, IssuedToken
from ._jwks import HttpKeySource, KeySource, KeySourceError, KeysUnavailable, KeyStore, LocalKeySource
from ._jwt import TokenRefused, TokenValidator
from ._openfga import OpenFgaAuthorizer
from ._service import Auth
from ._user import User

__all__ = [
    "DISCOVERY_PATH",
    "JWKS_PATH",
    "TOKEN_PATH",
    "Auth",
    "DemoIssuer",
    "HttpKeySource",
    "IssuedToken",
    "KeySource",
    "KeySourceError",
    "KeyStore",
    "KeysUnavailable",
    "LocalKeySource",
    "OpenFgaAuthorizer",
    "TokenRefused",
    "TokenValidator",
    "User",
]
