"""The dashboard's widgets, one module per screen area."""

from .errors import ErrorsTable
from .offline import Offline
from .pools import PoolTable
from .requests import RequestsPanel
from .status import StatusBar
from .systems import SystemsTable

__all__ = ["ErrorsTable", "Offline", "PoolTable", "RequestsPanel", "StatusBar", "SystemsTable"]
