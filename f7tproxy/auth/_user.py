"""Who is calling: the user a valid bearer token names."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen(repr=False)
class User:
    """The authenticated caller of one request."""

    name: str
    """POSIX user name, from the token's configured username claim."""
    token: str = attrs.field(eq=False)
    """The raw bearer token, forwarded only where the user's credential needs it (ssh_service)."""
    claims: dict[str, Any] = attrs.field(eq=False, factory=dict)
    """The validated token's claims."""

    def __repr__(self) -> str:
        # Never print the token: it is a credential until it expires.
        return f"User({self.name!r})"
