"""The metrics hook points other parts call, as Prometheus sees them."""

from __future__ import annotations

from f7tproxy.observability import Metrics, PoolGauges


def value(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_pool_gauges_are_read_from_the_snapshot_at_scrape_time() -> None:
    m = Metrics()
    assert "f7tproxy_ssh_connections{" not in m.render().decode()  # no pool yet: no samples
    pools = [PoolGauges(system="a", connections=2, slots_in_use=5, waiters=0)]
    m.set_pool_source(lambda: pools)
    assert value(m, "f7tproxy_ssh_connections", system="a") == 2
    pools = [PoolGauges(system="a", connections=3, slots_in_use=18, waiters=4)]
    assert value(m, "f7tproxy_ssh_slots_in_use", system="a") == 18
    assert value(m, "f7tproxy_ssh_lease_waiters", system="a") == 4


def test_ssh_counters_bound_their_reasons() -> None:
    m = Metrics()
    m.ssh_reconnect("a")
    m.ssh_reconnect("a")
    m.ssh_failure("a", "host_key")
    m.ssh_failure("a", "ConnectionRefusedError: [Errno 111] on 10.1.2.3")  # not a reason: "other"
    assert value(m, "f7tproxy_ssh_reconnects_total", system="a") == 2
    assert value(m, "f7tproxy_ssh_failures_total", system="a", reason="host_key") == 1
    assert value(m, "f7tproxy_ssh_failures_total", system="a", reason="other") == 1


def test_health_probe_result_latency_and_time() -> None:
    m = Metrics()
    m.health_probe("a", "scheduler", healthy=True, duration=0.2, at=1000.0)
    m.health_probe("a", "scheduler", healthy=False, duration=10.0, at=1060.0)
    assert value(m, "f7tproxy_health_up", system="a", service="scheduler") == 0
    assert value(m, "f7tproxy_health_last_probe_timestamp_seconds", system="a", service="scheduler") == 1060
    assert value(m, "f7tproxy_health_probe_duration_seconds_count", system="a", service="scheduler") == 2
    assert value(m, "f7tproxy_health_probe_duration_seconds_bucket", system="a", service="scheduler", le="0.25") == 1


def test_token_failures_by_reason() -> None:
    m = Metrics()
    for reason in ("expired", "expired", "audience", "eyJhbGciOi..."):
        m.token_failure(reason)
    assert value(m, "f7tproxy_token_failures_total", reason="expired") == 2
    assert value(m, "f7tproxy_token_failures_total", reason="audience") == 1
    assert value(m, "f7tproxy_token_failures_total", reason="other") == 1
    assert "eyJ" not in m.render().decode()


def test_each_metrics_object_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.token_failure("expired")
    assert value(b, "f7tproxy_token_failures_total", reason="expired") is None
