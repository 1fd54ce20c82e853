"""The Python front door, for scripts and notebooks: ``evaluate`` runs a submission on tasks
the way ``rlbench-icl run`` does, and ``load_results`` reads any results directory; both
return ``Scores``, the long table of scores with the usual summaries.

    >>> import rlbench_icl as rl
    >>> scores = rl.evaluate("ucbvi", tasks="quick", seeds=3)        # doctest: +SKIP
    >>> scores.iqm()                                                  # doctest: +SKIP
    {'online': 0.91...}
    >>> scores.to_pandas()                                            # doctest: +SKIP

``evaluate`` takes what ``--agent`` takes (a name, a path to a .py file, or
``package.module:attribute``), run sealed, or a ``Submission`` object defined in the notebook
itself, run in this process (its results are marked ``in-process``: the leaderboard does not
rank them; put the agent in a file to run it sealed).
"""

from __future__ import annotations

import inspect
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import scoring
from .conformance import check_agent
from .contract import Submission
from .discovery import code_identity, reference, register_object, submission_code
from .errors import SubmissionError
from .leaderboard import LONG_COLUMNS, Results, long_scores, rescore
from .leaderboard import load_results as _load_records
from .protocols import PROTOCOLS
from .registry import Registry, load_registry
from .runner import plan_runs, run_grid
from .runner.plan import TIMEOUT_BASE
from .sealed import DEFAULT_MEMORY, Limits, opened_submission


class _OwnedDirectory:
    """A new temporary directory, removed (silently) when this object is garbage-collected
    or at exit. Not ``tempfile.TemporaryDirectory``: that warns when it cleans up this way,
    and a pickled copy would lose its directory when the original goes. Here a copy shares
    the original, and a pickled one (a ``Scores`` returned from another process) becomes
    the plain path, its directory kept, as any ``out`` directory is."""

    def __init__(self) -> None:
        self.name = tempfile.mkdtemp(prefix="rlbench-icl-")
        self._remove = weakref.finalize(self, shutil.rmtree, self.name, ignore_errors=True)

    def __deepcopy__(self, memo: dict) -> _OwnedDirectory:
        return self

    def __reduce__(self):
        self._remove.detach()
        return str, (self.name,)


@dataclass
class Scores:
    """One row per scored unit (``LONG_COLUMNS``: an online run, or an offline run's
    (dataset size, behaviour) cell), and where they are stored."""

    rows: list[dict]
    results_dir: Path
    refused: list[tuple[str, str]] = field(default_factory=list)
    # evaluate's default results directory: removed when these Scores are garbage-collected
    # (or at exit), so notebook runs do not pile up in the temporary directory
    _temporary: _OwnedDirectory | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.rows)

    def scores(self, protocol: str, submission: str | None = None) -> list[float]:
        """The successful rows' normalised scores of one protocol (and submission)."""
        return [r["score"] for r in self.rows if r["protocol"] == protocol
                and r["status"] == "ok" and submission in (None, r["submission"])]

    def iqm(self, submission: str | None = None) -> dict[str, float]:
        """Interquartile mean of the scores per protocol, over every row (no interval:
        the leaderboard's stratified bootstrap gives those)."""
        out = {}
        for protocol in PROTOCOLS:
            values = self.scores(protocol, submission)
            if values:
                out[protocol] = float(scoring.iqm(np.array(values)[:, None]))
        return out

    def failed(self) -> list[dict]:
        return [r for r in self.rows if r["status"] != "ok"]

    def to_pandas(self):
        """The rows as a ``pandas.DataFrame`` (pandas is not a dependency of the core:
        ``pip install pandas``)."""
        import pandas

        return pandas.DataFrame(self.rows, columns=list(LONG_COLUMNS))


def load_results(results_dir: str | Path, registry: Registry | None = None) -> Scores:
    """The scores stored under ``results_dir``, rescored from the registry's exact values;
    files that cannot be used are listed in ``refused`` with the reason."""
    registry = registry or load_registry()
    results = _load_records(Path(results_dir), registry)
    return Scores(long_scores(results), Path(results_dir), list(results.refused))


def evaluate(agent: str | Submission, tasks: str = "quick", seeds: int = 5,
             protocols: Sequence[str] = PROTOCOLS, episodes: int | None = None,
             out: str | Path | None = None, jobs: int = 1, in_process: bool = False,
             timeout: float | None = None, memory: int | None = DEFAULT_MEMORY,
             task_paths: Sequence[str] = (), progress: bool = True) -> Scores:
    """Run ``agent`` on ``tasks`` (ids, suites, families or tags, as ``--tasks``) for seeds
    0..``seeds``-1, store the results under ``out`` and return the scores of this grid.
    Without ``out`` they go to a new temporary directory that lives as long as the returned
    ``Scores`` (``scores.results_dir``: keep the ``Scores`` while you use it, e.g. in
    ``load_results``); pass ``out`` to keep the runs. Stored runs are
    reused as ``rlbench-icl run`` reuses them. ``load_results(out)`` reads them back later,
    as the leaderboard would (which refuses runs with non-default settings such as
    ``episodes``).

    Raises ``RlbenchIclError`` subclasses for bad input (unknown task or agent, an agent
    that fails the conformance check, code changed under a stored version)."""
    registry = load_registry(task_paths)
    task_ids = registry.select_some(tasks)
    if isinstance(agent, Submission):
        ref, in_process = register_object(agent), True
        if jobs != 1:
            raise SubmissionError("a Submission object runs in this process only: jobs=1, "
                                  "or put it in a .py file and pass its path")
    else:
        ref = reference(agent)
    isolation = "in-process" if in_process else "sealed"
    limits = Limits(TIMEOUT_BASE, memory)
    opened = nullcontext(agent) if isinstance(agent, Submission) else opened_submission(
        ref, in_process, limits)
    with opened as submission:
        wanted = tuple(p for p in protocols if p in submission.protocols)
        if not wanted:
            raise SubmissionError(f"{submission.name} supports only "
                                  f"{' and '.join(submission.protocols)}, not "
                                  f"{' and '.join(protocols)}")
        check_agent(submission, wanted)
        code = (code_identity_of_object(agent) if isinstance(agent, Submission)
                else submission_code(ref, submission))
        runs = plan_runs(ref, submission, registry, task_ids, wanted, range(seeds), episodes,
                         [str(Path(p).resolve()) for p in task_paths], timeout, isolation,
                         memory, code)
    temporary = _OwnedDirectory() if out is None else None
    out = Path(temporary.name) if temporary else Path(out)
    report = run_grid(runs, out, jobs=jobs, progress=progress)
    scores = _scores_of(report.records, registry, out)
    scores._temporary = temporary
    return scores


def _scores_of(records: list[dict], registry: Registry, out: Path) -> Scores:
    """The scores of a grid's records (whatever its settings, e.g. fewer episodes: the
    leaderboard's loader would refuse those), rescored from the registry's exact values."""
    results = Results()
    for record in records:
        rescore(record, registry.make(record["task"]["id"]))
        results.records.setdefault((record["protocol"], record["submission"]["name"]),
                                   []).append(record)
    return Scores(long_scores(results), out)


def code_identity_of_object(submission: Submission) -> dict | None:
    """The code hash of a submission defined in a file, through the file of its online or
    offline callable; None for one defined in a notebook cell."""
    factory = submission.make_online_agent or submission.solve_offline
    try:
        source = Path(inspect.getsourcefile(factory) or "")
    except TypeError:
        return None
    return code_identity(source, submission.files) if source.is_file() else None
