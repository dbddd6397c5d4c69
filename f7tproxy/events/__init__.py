"""Job state and job output pushed as Server-Sent Events, from one watcher per (system, user).

    _sse.py        the event-stream wire format
    _lines.py      output bytes into bounded lines
    _watched.py    JobRecord, FollowedFile: what a watcher holds, with its listeners' places;
                   EventNumbers: the changes' numbers shared by replicas (`shared_state`)
    _watcher.py    Watcher: one poll per interval for all of a user's streams on a system
    _service.py    JobWatchers: the service (its own nursery), listeners, caps, shutdown
"""

from ._service import (
    EventsStatistics,
    Failed,
    Item,
    JobChanged,
    JobListener,
    JobWatchers,
    KeepAlive,
    OutputEnd,
    OutputLine,
    OutputListener,
    Shutdown,
)
from ._sse import comment, event, last_event_id
from ._watched import EventNumbers
from ._watcher import WatcherStatistics, read_command

__all__ = [
    "EventNumbers",
    "EventsStatistics",
    "Failed",
    "Item",
    "JobChanged",
    "JobListener",
    "JobWatchers",
    "KeepAlive",
    "OutputEnd",
    "OutputLine",
    "OutputListener",
    "Shutdown",
    "WatcherStatistics",
    "comment",
    "event",
    "last_event_id",
    "read_command",
]
