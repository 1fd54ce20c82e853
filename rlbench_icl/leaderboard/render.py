"""Text rendering shared by the tables: Markdown, CSV, number formats, escaping.

Everything here is a pure function of its arguments, so a table's bytes depend only on its
rows.
"""

from __future__ import annotations

import csv
import io

import numpy as np
from tabulate import tabulate


def markdown_table(rows: list[list], headers: list[str]) -> str:
    """A GitHub Markdown table; cells are written as given (no number parsing)."""
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def csv_text(rows: list[list], headers: list[str]) -> str:
    """CSV with ``\\n`` line ends whatever the platform; text cells that a spreadsheet would
    run as a formula are neutralised (``neutral_cell``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutral_cell(h) for h in headers])
    writer.writerows([neutral_cell(c) for c in row] for row in rows)
    return buffer.getvalue()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutral_cell(cell):
    """A cell that starts like a spreadsheet formula (``=``, ``+``, ``-``, ``@``, tab, CR)
    and is not a number gets a leading ``'``, so opening a leaderboard CSV never runs a
    formula from a submission's name or metadata (OWASP's CSV-injection rule). Numbers,
    negative ones included, are kept as they are."""
    if not isinstance(cell, str) or not cell.startswith(FORMULA_START):
        return cell
    try:
        float(cell)
    except ValueError:
        return "'" + cell
    return cell


def interval_headers(name: str) -> list[str]:
    """The numeric CSVs' three columns of an interval: ``name``, ``name low``, ``name high``
    (the site reads this pattern back as one sortable interval)."""
    return [name, f"{name} low", f"{name} high"]


def csv_number(value: float | None, digits: int = 6) -> str:
    """A CSV cell of a numeric table: fixed digits, empty for no value."""
    return "" if value is None else fmt(value, digits)


def csv_interval(ci: tuple[float, float, float] | None, digits: int = 6) -> list[str]:
    """The three cells of ``interval_headers``: point, low, high (empty for no value)."""
    return [csv_number(v, digits) for v in (ci if ci is not None else (None,) * 3)]


def escape_markdown(text: str) -> str:
    """Submission metadata is untrusted: no HTML, no table breaks, no links injected."""
    out = str(text)
    for char in "\\`*_{}[]()#+!|<>":
        out = out.replace(char, "\\" + char)
    return " ".join(out.split())


def fmt(value: float, digits: int = 3) -> str:
    """``value`` with fixed digits; one that rounds to zero is "0.000", never "-0.000" (the
    random agent's normalised values are float noise around 0, e.g. -1e-17)."""
    return f"{round(value, digits) + 0.0:.{digits}f}"  # -0.0 + 0.0 is +0.0


def fmt_ci(point: float, lo: float, hi: float, digits: int = 3) -> str:
    """``point [lo, hi]``."""
    return f"{fmt(point, digits)} [{fmt(lo, digits)}, {fmt(hi, digits)}]"


def median_episodes(values: list[int], budget: int) -> str:
    """The median of episode counts, ``> budget`` when it lies beyond the budget (runs that
    never got there count as budget + 1)."""
    value = float(np.median(values))
    return f"> {budget}" if value > budget else f"{value:g}"


def median_number(values: list[int]) -> str:
    """The numeric CSVs' median of episode counts (past the budget as it is: budget + 1
    when most runs never got there)."""
    return f"{float(np.median(values)):g}"


def seed_ranges(seeds: list[int]) -> str:
    """Sorted seeds with runs of consecutive ones joined: ``[0, 2, 3, 4, 7]`` gives
    ``"seeds 0,2-4,7"`` (no spaces: a list of tasks is separated by ", "), ``[5]`` gives
    ``"seed 5"``."""
    spans: list[list[int]] = []
    for seed in sorted(seeds):
        if spans and seed == spans[-1][-1] + 1:
            spans[-1].append(seed)
        else:
            spans.append([seed])
    text = ",".join(f"{s[0]}-{s[-1]}" if len(s) > 1 else f"{s[0]}" for s in spans)
    return f"seed{'s' if len(seeds) > 1 else ''} {text}"
