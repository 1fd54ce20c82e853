"""The leaderboard: regenerated from stored result files, deterministically.

``build_leaderboard(results_dir, out_dir, registry)`` reads every result file, refuses (with
the file's name) those that are unreadable, of another schema, or whose task digest does not
match the registry, and writes Markdown and CSV tables and PNG figures. Same results, same
bytes: every bootstrap stream is keyed by (protocol, submission), tables are sorted, figures
carry no timestamps.

The declared grid is seeds 0..N-1 of every task of the suite (N = ``seeds``, default 10). A
submission is ranked on a protocol only on that grid, and only if it has a successful run for
every (task, seed) of it; otherwise it is listed as incomplete, with what is missing or
failed. Runs outside the grid (e.g. the paper's seeds 10 and 11) are not used for ranking and
make nothing incomplete. The paper-reproduction table is written only for a suite with a
paper task.

The modules follow the pipeline: ``results`` (read, refuse, rescore) → ``entries`` (score
matrices, aggregates, ranking) → ``tables``, ``figures`` and ``paper`` (the outputs, with the
text helpers in ``render``) → ``build`` (the whole leaderboard and its front page).
"""

from .build import SUITE_TAG, build_leaderboard
from .entries import NOT_BASELINES, Entry, Ranked, make_entries, score_matrix, size_matrix
from .render import escape_markdown
from .results import Results, load_results, rescore

__all__ = [
    "NOT_BASELINES",
    "SUITE_TAG",
    "Entry",
    "Ranked",
    "Results",
    "build_leaderboard",
    "escape_markdown",
    "load_results",
    "make_entries",
    "rescore",
    "score_matrix",
    "size_matrix",
]
