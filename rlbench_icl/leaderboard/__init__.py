"""The leaderboard: regenerated from stored result files, deterministically.

``build_leaderboard(results_dir, out_dir, registry)`` reads every result file, refuses (with
the file's name) those that are unreadable, of another schema, or whose task digest does not
match the registry, and writes Markdown and CSV tables and PNG figures. Same results, same
bytes: every bootstrap stream is keyed by (protocol, submission), tables are sorted, figures
carry no timestamps.

A submission is ranked on a protocol only if none of its runs failed or was refused and some
seeds have a run on every task of the suite (ranking uses those seeds); otherwise it is listed
as incomplete.

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
