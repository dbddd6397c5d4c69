"""The app's URL rules compile their URL builders on first use, and build what werkzeug's build."""

from __future__ import annotations

import pytest
from quart.routing import QuartMap, QuartRule
from werkzeug.routing import Rule as WerkzeugRule

from f7tproxy import config
from f7tproxy.api import create_app
from f7tproxy.api._routing import Rule
from f7tproxy.runtime import Runtime


def test_building_the_app_compiles_no_url_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    builder = WerkzeugRule._compile_builder

    def counting(rule: WerkzeugRule, append_unknown: bool = True):  # type: ignore[no-untyped-def]
        compiled.append(rule.rule)
        return builder(rule, append_unknown)

    monkeypatch.setattr(WerkzeugRule, "_compile_builder", counting)
    app = create_app(Runtime.build(config.from_mapping({"auth": {"jwks_url": "http://127.0.0.1:9/jwks"}})))
    assert len(list(app.url_map.iter_rules())) > 40
    assert compiled == []
    adapter = app.url_map.bind("localhost")
    assert adapter.build("status.systems") == "/status/systems"
    assert compiled == ["/status/systems"]  # the one builder used, once
    adapter.build("status.systems")
    assert compiled == ["/status/systems"]


@pytest.mark.parametrize(
    ("endpoint", "values", "append_unknown"),
    [
        ("file", {"system": "tiny", "path": "a/b c"}, True),
        ("file", {"system": "tiny", "path": "x", "extra": "1"}, True),
        ("file", {"system": "tiny", "path": "x", "extra": "1"}, False),
        ("job", {"system": "tiny", "jobid": 7}, True),
    ],
)
def test_urls_are_built_as_werkzeug_builds_them(endpoint: str, values: dict[str, object], append_unknown: bool) -> None:
    def urls(rule_class: type[QuartRule]) -> tuple[str, str]:
        rules = [rule_class("/fs/<system>/<path:path>", endpoint="file"),
                 rule_class("/compute/<system>/jobs/<int:jobid>", endpoint="job")]  # fmt: skip
        adapter = QuartMap(rules).bind("example.org")
        return adapter.build(endpoint, values, append_unknown=append_unknown), adapter.build(
            endpoint, values, force_external=True, append_unknown=append_unknown
        )

    assert urls(Rule) == urls(QuartRule)
