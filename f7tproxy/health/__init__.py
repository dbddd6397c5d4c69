"""Health probes of every cluster's services, and the gate that refuses requests to unhealthy ones.

    _result.py    ServiceHealth (frozen), staleness, FirecREST's servicesHealth shape
    _probes.py    ssh, scheduler (Slurm/PBS), filesystem, s3 probes
    _checker.py   HealthChecker: the probe loops, check-now, gate/gate_path, liveness
"""

from ._checker import HealthChecker, HealthEvent
from ._outage import Outages
from ._probes import Probe, ProbeFailed, cluster_probes
from ._result import SERVICES, STALE_AFTER_INTERVALS, Service, ServiceHealth

__all__ = [
    "SERVICES",
    "STALE_AFTER_INTERVALS",
    "HealthChecker",
    "HealthEvent",
    "Outages",
    "Probe",
    "ProbeFailed",
    "Service",
    "ServiceHealth",
    "cluster_probes",
]
