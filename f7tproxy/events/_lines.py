"""Output bytes into lines: complete lines only, each at most a bounded length."""

from __future__ import annotations


def cut_lines(buf: bytes, at: int, limit: int, *, final: bool) -> list[tuple[str, int]]:
    """The lines of `buf`, which starts at file offset `at`: (text, file offset just after it) each.

    A line ends at a newline (not part of its text). A line longer than `limit` bytes is cut
    into pieces of at most `limit` bytes (at a UTF-8 character boundary where one is near).
    A last line without its newline is left for later unless `final` (the file is complete).
    Bytes that are not UTF-8 are replaced.
    """
    out: list[tuple[str, int]] = []
    i = 0
    while i < len(buf):
        newline = buf.find(b"\n", i, i + limit + 1)
        if newline != -1:
            piece, i = buf[i:newline], newline + 1
        elif len(buf) - i > limit:
            cut = limit
            while cut > limit - 4 and cut > 0 and buf[i + cut] & 0xC0 == 0x80:
                cut -= 1  # not inside a multi-byte character
            piece, i = buf[i : i + cut], i + cut
        elif final:
            piece, i = buf[i:], len(buf)
        else:
            break
        out.append((piece.decode("utf-8", errors="replace"), at + i))
    return out
