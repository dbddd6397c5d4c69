"""A secret value from the configuration that never shows itself."""

from __future__ import annotations

import attrs


@attrs.frozen(repr=False)
class Secret:
    """A secret read from a file, an environment variable or (for tests) inline.

    In YAML a secret is written as ``{file: /path}``, ``{env: NAME}`` or a plain
    string. Its `repr` and `str` never show the value: call `reveal()` where the
    value is really needed (signing, connecting), and nowhere else.
    """

    _value: str = attrs.field(alias="value", eq=False)
    source: str = "inline"
    """Where the value came from (``file:/path``, ``env:NAME`` or ``inline``), safe to print."""

    def reveal(self) -> str:
        """The secret value."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret(<{self.source}>)"

    __str__ = __repr__
