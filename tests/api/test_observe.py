"""The operator surface of the app, in process: ids, access log, request metrics, rate limits."""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import pytest
import trio
from quart import request

from f7tproxy import config, errors
from f7tproxy.api import create_app, public
from f7tproxy.api._app import GatewayApp
from f7tproxy.observability import note_user
from f7tproxy.runtime import Runtime

CLIENT = {"client": ("127.0.0.7", 40000)}


def make_app(**sections: Any) -> GatewayApp:
    return make_app_from(config.from_mapping({"auth": {"jwks_url": "http://127.0.0.1:9/jwks"}, **sections}))


def make_app_from(cfg: config.Config) -> GatewayApp:
    app = create_app(Runtime.build(cfg))

    # Stand-ins for a route and for the auth step: an app-level before_request that
    # runs before the rate limiter, as the real one is registered before it. The
    # route is public so that the real auth step leaves it to the stand-in.
    @app.get("/probe/<system>/jobs/<jobid>")
    @public
    async def job(system: str, jobid: str) -> dict[str, str]:
        return {"system": system, "jobid": jobid}

    async def fake_auth() -> None:
        if "X-Test-User" in request.headers:
            note_user(request.headers["X-Test-User"])

    app.before_request_funcs.setdefault(None, []).insert(0, fake_auth)
    return app


def sample(app: GatewayApp, name: str, **labels: str) -> float:
    value = app.runtime.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_request_id_is_generated_or_echoed() -> None:
    client = make_app().test_client()
    r = await client.get("/status/liveness/")
    assert len(r.headers["X-Request-ID"]) == 36 and "X-Correlation-ID" not in r.headers
    r = await client.get("/status/liveness/", headers={"X-Request-ID": "req-1", "X-Correlation-ID": "c-1"})
    assert (r.headers["X-Request-ID"], r.headers["X-Correlation-ID"]) == ("req-1", "c-1")
    # An id that could forge log lines or headers is replaced, not echoed.
    r = await client.get("/status/liveness/", headers={"X-Request-ID": 'x" y', "X-Correlation-ID": "a" * 200})
    assert r.headers["X-Request-ID"] != 'x" y' and "X-Correlation-ID" not in r.headers


async def test_access_log_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    client = make_app().test_client()
    with caplog.at_level(logging.INFO, logger="f7tproxy.access"):
        await client.get(
            "/probe/tiny/jobs/42",
            headers={"X-Request-ID": "r-9", "X-Correlation-ID": "c-9", "X-Test-User": "alice"},
            scope_base=CLIENT,
        )
    [record] = [r for r in caplog.records if r.name == "f7tproxy.access"]
    fields = record.fields  # type: ignore[attr-defined]
    assert fields.pop("duration") >= 0
    assert fields == {
        "request_id": "r-9", "correlation_id": "c-9", "user": "alice", "system": "tiny",
        "method": "GET", "endpoint": "/probe/{system}/jobs/{jobid}", "path": "/probe/tiny/jobs/42",
        "status": 200, "client": "127.0.0.7",
    }  # fmt: skip


async def test_metrics_count_by_route_template_method_and_status() -> None:
    app = make_app()
    client = app.test_client()
    for jobid in ("1", "2", "3"):
        await client.get(f"/probe/tiny/jobs/{jobid}")
    await client.get("/no/such/route")
    await client.post("/status/liveness/")
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.content_type.startswith("text/plain")
    text = await r.get_data(as_text=True)
    assert 'f7tproxy_http_requests_total{endpoint="/probe/{system}/jobs/{jobid}",method="GET",status="200"} 3.0' in text
    assert 'endpoint="/probe/tiny/jobs/1"' not in text  # never the raw path
    assert sample(app, "f7tproxy_http_requests_total", endpoint="<unmatched>", method="GET", status="404") == 1
    assert sample(app, "f7tproxy_http_requests_total", endpoint="<unmatched>", method="POST", status="405") == 1
    assert sample(
        app, "f7tproxy_http_request_duration_seconds_count", endpoint="/probe/{system}/jobs/{jobid}", method="GET"
    ) == 3
    assert "process_resident_memory_bytes" in text and 'f7tproxy_build_info{version="' in text


async def test_request_statistics_are_fed_by_the_same_timer_with_error_messages() -> None:
    app = make_app()

    @app.get("/probe/<system>/broken")
    @public
    async def broken(system: str) -> None:
        raise errors.RequestTimeout(f"The command on {system} ran too long")

    client = app.test_client()
    await client.get("/probe/tiny/jobs/1", headers={"X-Test-User": "alice"})
    await client.get("/probe/tiny/broken", headers={"X-Test-User": "alice"})
    await client.get("/no/such/route")
    stats = app.runtime.requests.statistics(trio.current_time())
    assert stats.total == 3
    assert {(e.endpoint, e.method, e.count, e.errors) for e in stats.endpoints} == {
        ("/probe/{system}/jobs/{jobid}", "GET", 1, 0), ("/probe/{system}/broken", "GET", 1, 1), ("<unmatched>", "GET", 1, 0),
    }  # fmt: skip
    [error] = stats.errors
    assert (error.method, error.path, error.status, error.user) == ("GET", "/probe/tiny/broken", 408, "alice")
    assert error.message == "The command on tiny ran too long"
    # One timer: the Prometheus metrics count the same requests.
    assert sample(app, "f7tproxy_http_requests_total", endpoint="/probe/{system}/broken", method="GET", status="408") == 1


async def test_metrics_path_and_token_are_configurable() -> None:
    app = make_app(metrics={"path": "/internal/metrics", "token": "scrape-secret"})
    client = app.test_client()
    assert (await client.get("/metrics")).status_code == 404
    refused = await client.get("/internal/metrics")
    assert refused.status_code == 401 and (await refused.get_json())["errorType"] == "error"
    ok = await client.get("/internal/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert ok.status_code == 200
    assert (await client.get("/internal/metrics")).status_code == 401
    assert "scrape-secret" not in await ok.get_data(as_text=True)


async def test_metrics_can_be_turned_off() -> None:
    client = make_app(metrics={"enabled": False}).test_client()
    assert (await client.get("/metrics")).status_code == 404


async def test_429_after_the_user_burst_with_headers_and_firecrest_body() -> None:
    app = make_app(rate_limit={"per_user": {"rate": 0.5, "burst": 3}})
    client = app.test_client()
    alice = {"X-Test-User": "alice"}
    answers = [await client.get("/probe/tiny/jobs/1", headers=alice) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    refused = answers[3]
    assert refused.headers["Retry-After"] == "2"  # one token at 0.5/s
    assert refused.headers["RateLimit-Limit"] == "3"
    assert int(refused.headers["RateLimit-Reset"]) >= 2
    body = await refused.get_json()
    assert set(body) == {"errorType", "message", "data", "user", "causedBy"} and "Too many requests" in body["message"]
    # others are not affected; liveness and metrics are exempt
    assert (await client.get("/probe/tiny/jobs/1", headers={"X-Test-User": "bob"})).status_code == 200
    assert (await client.get("/status/liveness/", headers=alice)).status_code == 200
    assert "RateLimit-Limit" not in (await client.get("/status/liveness/", headers=alice)).headers
    assert sample(app, "f7tproxy_rate_limited_total", scope="user") == 1
    assert sample(
        app, "f7tproxy_http_requests_total", endpoint="/probe/{system}/jobs/{jobid}", method="GET", status="429"
    ) == 1


async def test_unauthenticated_requests_are_limited_by_client_address() -> None:
    client = make_app(rate_limit={"per_client": {"rate": 1, "burst": 2}, "exempt": []}).test_client()
    codes = [(await client.get("/status/liveness/", scope_base=CLIENT)).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    other = {"client": ("127.0.0.8", 1)}
    assert (await client.get("/status/liveness/", scope_base=other)).status_code == 200


async def test_system_limits_apply_to_configured_systems_only() -> None:
    cluster = {"name": "tiny", "ssh": {"host": "127.0.0.1", "known_hosts": "known_hosts",
                                       "credentials": {"mode": "static_keys"}}}  # fmt: skip
    cfg = config.from_mapping(
        {"auth": {"jwks_url": "http://127.0.0.1:9/jwks"}, "clusters": [cluster],
         "rate_limit": {"per_system": {"rate": 0.1, "burst": 1}}},  # fmt: skip
        base_dir=pathlib.Path(__file__).parent.parent / "config" / "good",
    )
    app = make_app_from(cfg)
    client = app.test_client()
    assert [(await client.get("/probe/tiny/jobs/1")).status_code for _ in range(2)] == [200, 429]
    for n in range(5):  # unknown systems: the route's business (404 later), not a bucket each
        assert (await client.get(f"/probe/made-up-{n}/jobs/1")).status_code == 200
    assert app.runtime.rate_limiter.bucket_count() == 1


async def test_pool_gauges_come_from_the_pool_statistics() -> None:
    cluster = {"name": "tiny", "ssh": {"host": "127.0.0.1", "known_hosts": "known_hosts",
                                       "credentials": {"mode": "static_keys"}}}  # fmt: skip
    cfg = config.from_mapping(
        {"auth": {"jwks_url": "http://127.0.0.1:9/jwks"}, "clusters": [cluster]},
        base_dir=pathlib.Path(__file__).parent.parent / "config" / "good",
    )
    app = make_app_from(cfg)
    text = await (await app.test_client().get("/metrics")).get_data(as_text=True)
    assert 'f7tproxy_ssh_connections{system="tiny"} 0.0' in text
    assert 'f7tproxy_ssh_slots_in_use{system="tiny"} 0.0' in text
    assert 'f7tproxy_ssh_lease_waiters{system="tiny"} 0.0' in text


async def test_made_up_methods_and_paths_do_not_grow_metrics_or_request_statistics() -> None:
    app = make_app()
    client = app.test_client()
    await client.get("/probe/tiny/jobs/1")
    await client.open("/probe/tiny/jobs/1", method="BREW")
    await client.open("/no/such/route", method="BREW")
    baseline = len(await (await client.get("/metrics")).get_data())
    for i in range(300):
        await client.open(f"/probe/tiny/jobs/{i}", method=f"X{i}")
        await client.open(f"/made/up/{i}", method=f"Y{i}")
    text = await (await client.get("/metrics")).get_data(as_text=True)
    assert len(text) < baseline + 2000, len(text) - baseline  # the same series, larger counts
    assert 'method="X1"' not in text
    assert sample(app, "f7tproxy_http_requests_total", endpoint="<unmatched>", method="other", status="405") == 301
    assert sample(app, "f7tproxy_http_requests_total", endpoint="<unmatched>", method="other", status="404") == 301
    keys = {(e.endpoint, e.method) for e in app.runtime.requests.statistics(0.0).endpoints}
    assert {method for _, method in keys} <= {"GET", "other"}
    assert len(keys) <= 3, keys


async def test_a_client_gone_before_the_answer_is_logged_499_not_500(caplog: pytest.LogCaptureFixture) -> None:
    from f7tproxy.api._observe import ObserveMiddleware
    from f7tproxy.observability import Metrics

    async def app_seeing_disconnect(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.disconnect"  # the client left: no answer is sent

    async def app_failing(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async def disconnect() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def no_send(message: Any) -> None:
        raise AssertionError("nothing is sent")

    metrics = Metrics()
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "client": ("127.0.0.1", 1)}
    with caplog.at_level(logging.INFO, logger="f7tproxy.access"):
        await ObserveMiddleware(app_seeing_disconnect, metrics)(scope, disconnect, no_send)  # type: ignore[arg-type]
        with pytest.raises(RuntimeError):
            await ObserveMiddleware(app_failing, metrics)(scope, disconnect, no_send)  # type: ignore[arg-type]
    statuses = [r.fields["status"] for r in caplog.records if r.name == "f7tproxy.access"]  # type: ignore[attr-defined]
    assert statuses == [499, 500]
