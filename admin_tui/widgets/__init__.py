"""The dashboard's widgets, one module per screen area; `Dashboard` lays them out."""

from .dashboard import BREAKPOINTS, Dashboard
from .errors import ErrorsTable
from .offline import Offline
from .pools import PoolTable
from .replicas import ReplicasTable
from .requests import EndpointsTable, RequestRates
from .status import StatusBar
from .streams import StreamsTable
from .systems import SystemsTable
from .uploads import UploadsTable

__all__ = [
    "BREAKPOINTS", "Dashboard", "EndpointsTable", "ErrorsTable", "Offline", "PoolTable", "ReplicasTable",
    "RequestRates", "StatusBar", "StreamsTable", "SystemsTable", "UploadsTable",
]  # fmt: skip
