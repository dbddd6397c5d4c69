"""What sharing saved: per system, requests answered without a remote command of their own, and 429s."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static


class SharingLines(Static):
    """One line per system: coalesced reads and batched lookups, cache hits, 429s from full pools,
    remote commands per request; then the share of tokens served from the cache of validated ones."""

    DEFAULT_CSS = """
    SharingLines { height: auto; padding: 0 1; color: $text-muted; }
    """

    def show(self, snapshot: dict[str, Any]) -> None:
        lines = [system_line(system) for system in snapshot["systems"] if system.get("sharing")]
        endpoints = snapshot["requests"]["endpoints"]
        if any("commands" in e for e in endpoints):
            commands, count = sum(e.get("commands", 0) for e in endpoints), sum(e["count"] for e in endpoints)
            line = Text("all systems: ", style="bold")
            line.append(f"{commands / count if count else 0:.2f} remote commands per request")
            tokens = snapshot.get("tokens")
            if tokens:
                line.append(f"; tokens from the cache {share(tokens['cached'], tokens['cached'] + tokens['checked'])}")
            lines.append(line)
        self.display = bool(lines)
        self.update(Text("\n").join(lines))


def system_line(system: dict[str, Any]) -> Text:
    """`cluster: coalesced 430 (41%) · cached 90 (90%) · 429 full 12`."""
    sharing = system["sharing"]
    joined = sharing["reads_joined"] + sharing["lookups_joined"]
    ran = sharing["reads_ran"] + sharing["lookups_ran"]
    hits = sharing["cache_hits"]
    cached = hits + sharing["cache_joined"] + sharing["cache_misses"]
    line = Text(f"{system['name']}: ", style="bold")
    line.append(f"coalesced {share(joined, joined + ran)} · cached {share(hits, cached)} · ")
    full = sharing["pool_busy"]
    line.append(f"429 full {full}", style="bold yellow" if full else "")
    return line


def share(part: int, whole: int) -> str:
    """`part` and its share of `whole`: 412 (41%)."""
    return f"{part} ({100 * part / whole:.0f}%)" if whole else str(part)
