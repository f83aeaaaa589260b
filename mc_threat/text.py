"""Plain-text output shared by every report: :func:`table`."""

from __future__ import annotations


def table(rows: list[list[str]], right: set[int] = frozenset(), strip: bool = True) -> list[str]:
    """Lines of a plain-text table: ``rows[0]`` the header, a line of dashes under it, columns
    two spaces apart, the columns numbered in ``right`` right-aligned, the others left-aligned,
    trailing spaces dropped (kept with ``strip=False``). Every command and report of mc-threat
    prints its tables with it."""
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = [c.rjust(w) if k in right else c.ljust(w)
                 for k, (c, w) in enumerate(zip(r, widths, strict=True))]
        line = "  ".join(cells)
        out.append(line.rstrip() if strip else line)
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out
