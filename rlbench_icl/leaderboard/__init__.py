"""The leaderboard: regenerated from stored result files, deterministically.

``build_leaderboard(results_dir, out_dir, registry)`` reads every result file, refuses (with
the file's name) those that are unreadable, of another schema, or whose task digest does not
match the registry, and writes Markdown and numeric CSV tables, the long scores table
(``scores.csv``, ``long_scores``), the figure set (PNG, PDF and SVG) and, with ``html_dir``,
a static web site. Same results, same bytes: every bootstrap stream is keyed by (protocol,
submission), tables are sorted, figures and pages carry no timestamps.

The declared grid is seeds 0..N-1 of every task of the suite (N = ``seeds``, default 10). A
submission is ranked on a protocol only on that grid, and only if it has a successful run for
every (task, seed) of it; otherwise it is listed as incomplete, with what is missing or
failed. Runs outside the grid (e.g. the paper's seeds 10 and 11) are not used for ranking and
make nothing incomplete. An incomplete submission still gets per-task scores, marked, for
what it ran. The paper-reproduction table is written only for a suite with a paper task.

The modules follow the pipeline: ``results`` (read, refuse, rescore) → ``entries`` (score
matrices, aggregates, ranking) → ``tables``, ``heldout``, ``inputs``, ``long``, ``figures``
and ``paper`` (the outputs, with the text helpers in ``render``, the drawing primitives in
``draw`` and each submission's look in ``style``) → ``build`` (the whole leaderboard and its
front page) → ``web`` (the static site, templates in ``web_assets``).
"""

from .build import SUITE_TAG, build_leaderboard
from .entries import (
    NOT_BASELINES,
    Entry,
    Ranked,
    Ranking,
    make_entries,
    score_matrix,
    size_matrix,
)
from .long import LONG_COLUMNS, long_scores
from .render import escape_markdown
from .results import Results, load_results, rescore

__all__ = [
    "LONG_COLUMNS",
    "NOT_BASELINES",
    "SUITE_TAG",
    "Entry",
    "Ranked",
    "Ranking",
    "Results",
    "build_leaderboard",
    "escape_markdown",
    "load_results",
    "long_scores",
    "make_entries",
    "rescore",
    "score_matrix",
    "size_matrix",
]
