"""The app's URL rules: Quart's (werkzeug's), with their URL builders compiled when first used.

For each rule it registers, werkzeug's `Rule.compile` generates two Python functions that
build the rule's URLs (`url_for`, redirects to a rule's defaults) and compiles them:
about 1.5 ms a rule, most of the time the app takes to build at every start (the ~45
rules took 40-70 ms). Matching requests never uses them. Here each builder is
compiled on its first call, once, then used as werkzeug's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quart.routing import QuartRule


class Rule(QuartRule):
    """Quart's rule, with its URL builders compiled on first use."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        name = "_build_unknown" if append_unknown else "_build"
        compile_builder = super()._compile_builder

        def build(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            # `compile` binds this function to the rule as `name`; the compiled builder replaces it.
            builder: Callable[..., tuple[str, str]] = compile_builder(append_unknown).__get__(rule, None)
            setattr(rule, name, builder)
            return builder(*args, **kwargs)

        return build
