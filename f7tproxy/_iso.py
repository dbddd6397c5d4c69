"""ISO 8601 times in UTC with a `Z`, as the API, the admin snapshot and the logs write them."""

from __future__ import annotations

import datetime
from typing import overload


@overload
def iso_z(t: datetime.datetime, timespec: str = "auto") -> str: ...
@overload
def iso_z(t: None, timespec: str = "auto") -> None: ...
def iso_z(t: datetime.datetime | None, timespec: str = "auto") -> str | None:
    """`t` (an aware UTC datetime) as ISO 8601 ending in `Z`; None stays None."""
    return None if t is None else t.isoformat(timespec=timespec).replace("+00:00", "Z")
