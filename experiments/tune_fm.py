"""Choosing the foundation model's inference settings on synthetic MDPs only: the online
sampling temperature and R-max bonus beta (the network's bonus input: optimism), and the
offline reading (pessimism: the virtual outcomes of rlbench_icl/fm/virtual.py).

The two synthetic tuning suites of ``rlbench_icl.tuning``: ``default``, the baselines' suite,
and ``explore``, sparse far goals only. Online settings are scored by the online score over
``--episodes`` episodes (use budgets like the benchmark's, 200-1500: a setting that wins
short runs can lose long ones); offline settings by the offline score (datasets of 5 and 50
episodes, behaviours uniform, 0.5- and 0.1-mixtures). No benchmark task is used. Agents and
solvers are built from the fm library (``rlbench_icl.tuning.fm_submission``) with each
setting; the submission itself is not touched.

Usage: python experiments/tune_fm.py [--suite default|explore|gaps] [--first I] [--mdps N]
       [--seeds N] [--episodes K] [--jobs N] [--checkpoint DIR] [--sweep NAME]
       [--rows I,J,...] [--against ROW] [--runs FILE]

``--first I --mdps N``: the suite's MDPs I to I + N - 1 (fresh ones for a confirmation).
``--rows I,J,...``: only these rows of the sweep (numbered as in the sweep; a row keeps its
number, so rows can be added to a ``--runs`` file later).
``--against ROW``: each row's mean paired difference to row ROW, with a bootstrap interval.
``--runs FILE``: every run's score, written in the order runs are submitted; a sweep stopped
part-way resumes from it (the file's first line names the sweep, suite, budget and
checkpoint, and must match).

``--checkpoint``: another exported network (default: the shipped one). ``--sweep`` (one of
SWEEPS): the record of every sweep in experiments/tune_fm.md, most of them on networks
trained by earlier configs (removed; in git history at commit 12977e8); nonzero bonuses are
tried only on a network that reads the bonus. ``inference``: temperature, rounds and virtual
outcomes of the v2 network; ``bonus``, ``rmax``: the bonus of a network trained with the
``sqrt`` or ``untried`` (R-max) bonus form; ``values``: temperature and pessimism of a network
that reads exact plans; ``trap``: the virtual trap offline on a bonus network; ``vsqrt``:
temperature, bonus and trap of a network reading plans with a ``sqrt`` bonus; ``lasting``:
lasting virtual outcomes; ``worst``: lasting traps as bad as the worst reward seen;
``greedier``: online temperature against beta; ``online``: temperature and beta of a new
network; ``range``, ``range-offline``: rewards read in the task's declared unit;
``heaven``: a lasting virtual heaven; ``range-check``, ``range-rest``, ``shipped``: the
online settings of release 5.1 and 6, to compare networks; ``refresh``, ``refresh17``,
``refresh18``, ``paper-refresh``, ``paper-refresh30``, ``paper-refresh-w256``: how often the
statistic is re-read;
``shipped-offline``: release 6's offline reading; ``gate22``: when a mixture network follows
its drawn head.
"""

from __future__ import annotations

# isort: off
import rlbench_icl  # noqa: F401 - before numpy: no AVX-512 kernels (rlbench_icl/cpu.py)
# isort: on
import argparse
import hashlib
import math
import os
from pathlib import Path
from typing import NamedTuple

import joblib
import numpy as np
from tabulate import tabulate
from tqdm.auto import tqdm

from rlbench_icl.discovery import SUBMISSIONS_DIR
from rlbench_icl.errors import ConfigError
from rlbench_icl.fm.policy import Reading, load_network
from rlbench_icl.fm.virtual import VirtualOutcome
from rlbench_icl.tasks import Task
from rlbench_icl.tuning import (
    RUNS_COLUMNS,
    add_suite_arguments,
    fm_submission,
    offline_score,
    online_score,
    paired_interval,
    parse_runs,
    tuning_tasks,
)

SHIPPED = SUBMISSIONS_DIR / "gnn_fm_checkpoint"


class Setting(NamedTuple):
    """One row of a sweep. ``virtual``: a virtual outcome as (pseudo-count, reward
    multiple or "worst"/"worst-recurring"[, lasting]), or None; ``rounds`` None: as many
    propagation rounds as in training; ``temperature`` is read online only."""

    protocol: str
    varied: str
    temperature: float | None
    rounds: int | None
    virtual: tuple | None
    bonus: float
    range_scale: bool = False
    refresh: float = 1.0
    refresh_floor: float = 0.0
    follow_head_below: float = math.inf


# Every sweep on record (experiments/tune_fm.md), as rows of Setting fields: (protocol,
# what is varied, temperature, rounds, virtual outcome, bonus beta[, range scale[, refresh
# ratio[, refresh floor[, follow a mixture's drawn head below this weight]]]]).
SWEEPS = {
    # The v2 network's settings: temperature, rounds, virtual-outcome optimism/pessimism.
    "inference": (
        [("online", "temperature", t, None, None, 0.0) for t in (0.1, 0.2, 0.3, 0.5, 1.0)]
        + [("offline", "rounds", None, r, None, 0.0) for r in (None, 20)]
        + [("online", "optimism", 0.3, None, v, 0.0)
           for v in ((0.5, 1), (1, 0.5), (1, 1), (1, 2), (1, 3), (3, 1))]
        + [("offline", "pessimism", None, None, v, 0.0)
           for v in ((1, -0.5), (1, -1), (1, -3), (3, -1))]),
    # A network with a confidence-bonus input (fm_bonus.toml), against no bonus.
    "bonus": (
        [("online", "temperature, bonus", t, None, None, b)
         for t in (0.05, 0.2) for b in (0.0, 0.01, 0.03, 0.1, 0.3)]
        + [("offline", "bonus", None, None, None, b)
           for b in (0.0, -0.01, -0.03, -0.1, -0.3, -1.0)]
        + [("offline", "virtual", None, None, (3, -1), 0.0)]),
    # A network with an R-max bonus input (fm_rmax.toml): beta in [0.03, 1].
    "rmax": (
        [("online", "bonus", 0.2, None, None, b) for b in (0.0, 0.1, 0.3, 1.0)]
        + [("offline", "bonus", None, None, None, b) for b in (0.0, -0.1, -0.3, -1.0)]),
    # A network reading exact plans' advantages (fm_values.toml).
    "values": (
        [("online", "temperature", t, None, None, 0.0) for t in (0.05, 0.1, 0.2, 0.5)]
        + [("offline", "pessimism", None, None, v, 0.0) for v in (None, (1, -1), (3, -1))]),
    # The virtual trap on a bonus network (fm_values_rmax.toml), with and
    # without its learned pessimism.
    "trap": [("offline", "trap, bonus", None, None, v, b)
             for v in ((1, -1), (3, -1)) for b in (0.0, -0.1)],
    # A network reading plans with a count-based (sqrt) bonus input
    # (fm_values_sqrt.toml): temperature and optimism online, pessimism offline.
    "vsqrt": (
        [("online", "temperature, bonus", t, None, None, b)
         for t in (0.1, 0.2) for b in (0.0, 0.03, 0.1, 0.3, 1.0)]
        + [("offline", "trap, bonus", None, None, v, b)
           for v in (None, (1, -1), (1, -0.3, True)) for b in (0.0, -0.1, -0.3)]),
    # Lasting virtual outcomes (paying every step, not once) on the shipped v3, against
    # its once-paying trap offline (online without a heaven: the rmax sweep's beta = 0.3).
    "lasting": (
        [("offline", "trap", None, None, v, 0.0)
         for v in ((1, -1), (0.3, -1, True), (1, -1, True), (3, -1, True), (1, -0.3, True))]
        + [("online", "heaven, bonus", 0.2, None, v, b)
           for v, b in (((0.3, 1, True), 0.3), ((1, 1, True), 0.3), ((1, 1, True), 0.0))]),
    # A lasting trap as bad as the worst mean reward seen (or 0), offline, on the shipped v3.
    "worst": [("offline", "trap", None, None, v, 0.0)
              for v in ((1, -1), (1, -0.3, True), (0.3, "worst", True), (1, "worst", True),
                        (3, "worst", True))],
    # Online sampling temperature against the R-max bonus beta on the shipped v3 (its
    # release chose beta at T = 0.2 only): does it explore by beta or by sampling noise?
    "greedier": [("online", "temperature, bonus", t, None, None, b)
                 for b in (0.1, 0.3, 0.5) for t in (0.03, 0.1, 0.2)],
    # ... and below its lowest temperature, which won on both suites.
    "greedier2": [("online", "temperature, bonus", 0.01, None, None, b) for b in (0.1, 0.3)],
    # A new network with an R-max bonus input (the stationary one, fm_stationary.toml):
    # temperature and beta online (offline: offline_sizes.py).
    "online": [("online", "temperature, bonus", t, None, None, b)
               for b in (0.1, 0.3) for t in (0.03, 0.1)],
    # Rewards read in units of the task's known bound on |reward| (gnn_fm's range_scale),
    # not only the largest seen, against beta, on the shipped v5 (T = 0.1).
    "range": [("online", "range scale, bonus", 0.1, None, None, b, rs)
              for rs in (False, True) for b in (0.1, 0.3, 1.0)],
    # Count-based optimism on top (a lasting virtual heaven on every pair paying the
    # declared unit: virtual.py), with the declared unit at beta 1.0 (release 5.1).
    "heaven": [("online", "heaven", 0.1, None, v, 1.0, True)
               for v in (None, (0.1, 1, True), (0.3, 1, True), (1, 1, True))],
    # The eleventh attempt's two finalists again, with more seeds (--seeds 2).
    "range-check": [("online", "range scale, bonus", 0.1, None, None, 0.3, False),
                    ("online", "range scale, bonus", 0.1, None, None, 1.0, True)],
    # ... and the other two of beta {0.3, 1.0} x unit {seen, declared} (the thirteenth
    # attempt's rule compares a new network with 5.1 over all four).
    "range-rest": [("online", "range scale, bonus", 0.1, None, None, 0.3, True),
                   ("online", "range scale, bonus", 0.1, None, None, 1.0, False)],
    # The shipped online setting alone (release 5.1: beta 1.0, declared unit, T = 0.1), to
    # compare networks (the fourteenth attempt's rule); the same runs as its range-check row.
    "shipped": [("online", "range scale, bonus", 0.1, None, None, 1.0, True)],
    # The fifteenth attempt: the shipped online setting (release 6), re-reading the
    # statistic only once some pair's visits grew by the factor f (doubling epochs).
    "refresh": [("online", "refresh ratio", 0.1, None, None, 1.0, True, f)
                for f in (1.0, 2.0, 1.5, 1.25)],
    # The seventeenth attempt: the same, re-reading once a pair visited since the last
    # reading has f * max(n_read, floor) visits (floor 0: a first visit always counts).
    "refresh17": [("online", "refresh ratio, floor", 0.1, None, None, 1.0, True, f, m)
                  for f, m in ((2.0, 0.0), (3.0, 0.0), (4.0, 0.0), (2.0, 1.0), (4.0, 1.0))],
    # The eighteenth attempt: release 6 (f = 1) and f = 4, floor 0, paired on fresh MDPs.
    "refresh18": [("online", "refresh ratio, floor", 0.1, None, None, 1.0, True, f, 0.0)
                  for f in (1.0, 4.0)],
    # The twenty-fourth attempt: release 6.1's online setting (beta 1, declared unit, refresh
    # f = 4, floor 0) at five temperatures, row 0 its own T = 0.1 (run on the sixteenth
    # network, whose prior has chains and close-gap bandits, and on release 6 for the pairing).
    "temperature24": [("online", "temperature", t, None, None, 1.0, True, 4.0, 0.0)
                      for t in (0.1, 0.2, 0.3, 0.5, 1.0)],
    # After the twenty-fifth attempt stopped (a diagnostic, decides nothing): its network
    # with no R-max bonus (beta 0), where its output should estimate P(a is best | data),
    # greedy and sampled; release 6.1's setting otherwise.
    "posterior25": [("online", "temperature, bonus", t, None, None, 0.0, True, 4.0, 0.0)
                    for t in (0.1, 1.0)],
    # gnn-fm-paper as it acts (T = 1, 24 rounds, no bonus, rewards in the seen unit), with the
    # paper's cadence (f = 1) and gnn-fm 6.1's (f = 4, floor 0): the rule of
    # experiments/paper_fm/README.md, "What it costs online" (run with --checkpoint).
    "paper-refresh": [("online", "refresh ratio, floor", 1.0, 24, None, 0.0, False, f, 0.0)
                      for f in (1.0, 4.0)],
    # gnn-fm-paper's cadence rule, second candidate (stop 30): f = 4 with floor 1, so that a
    # pair new since the last reading counts once it has 4 visits (a first visit alone no
    # longer triggers a reading), paired against the paper's cadence (row 0, the same runs as
    # paper-refresh's row 0).
    "paper-refresh30": [("online", "refresh ratio, floor", 1.0, 24, None, 0.0, False, f, m)
                        for f, m in ((1.0, 0.0), (4.0, 1.0))],
    # w256's cadence rule (experiments/paper_fm/README.md, "If w256 ships"): the paper's
    # cadence (row 0) and the cost ladder f = 4, 8, 16, 32 with floor 1 (rows 1-4); run with
    # --rows 0 and the rows that passed the cost half.
    "paper-refresh-w256": [("online", "refresh ratio, floor", 1.0, 24, None, 0.0, False, f, m)
                           for f, m in ((1.0, 0.0), (4.0, 1.0), (8.0, 1.0), (16.0, 1.0),
                                        (32.0, 1.0))],
    # Release 6's offline setting alone (its OFFLINE reading), to compare networks (the
    # sixteenth attempt's rule).
    "shipped-offline": [("offline", "shipped", None, None, (1.0, "worst-recurring", True),
                         0.0, False)],
    # The twenty-second attempt: the twenty-first's mixture network (K = 4) with release 6's
    # online setting, following its drawn head only while the largest mixture weight is
    # below tau (0: never, acting on the marginal as a one-head agent acts; the twenty-first
    # is tau = inf).
    "gate22": [("online", "follow head below", 0.1, None, None, 1.0, True, 1.0, 0.0, tau)
               for tau in (0.0, 0.6, 0.8, 0.9)],
    "range-offline": [("offline", "range scale", None, None, (1.0, "worst-recurring", True),
                       0.0, rs) for rs in (False, True)],
}


def reading(setting: Setting) -> Reading:
    virtual = None if setting.virtual is None else VirtualOutcome(*setting.virtual)
    return Reading(bonus=setting.bonus, virtual=virtual, range_scale=setting.range_scale,
                   rounds=setting.rounds)


def score(setting: Setting, task: Task, seed: int, episodes: int, checkpoint: Path) -> float:
    """The tuning score of one setting of the network in ``checkpoint`` on one task."""
    if setting.protocol == "offline":
        return offline_score(task, fm_submission(checkpoint, reading(setting)), seed)
    submission = fm_submission(checkpoint, reading(setting), setting.temperature,
                               setting.refresh, setting.refresh_floor,
                               setting.follow_head_below)
    return online_score(task, submission, seed, episodes)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_suite_arguments(parser)
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED)
    parser.add_argument("--sweep", choices=tuple(SWEEPS), default="inference")
    parser.add_argument("--rows", type=_row_list, default=None, metavar="I,J,...",
                        help="run only these rows of the sweep (0-based; default: all)")
    parser.add_argument("--against", type=int, default=None, metavar="ROW",
                        help="also give each row's mean paired difference to row ROW "
                             "(0-based, of the rows this network runs), with a 95%% "
                             "bootstrap CI over MDPs")
    parser.add_argument("--runs", type=Path, default=None,
                        help="write every run's score to this CSV file; runs already in "
                             "it are not run again (a stopped sweep resumes)")
    args = parser.parse_args()
    args.checkpoint = args.checkpoint.resolve()
    try:
        args.reads_bonus = load_network(args.checkpoint).config.features.bonus
    except (ConfigError, FileNotFoundError) as exc:
        parser.error(str(exc))
    return args


def _row_list(text: str) -> list[int]:
    try:
        rows = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of row "
                                         "numbers, e.g. 0,2,3") from None
    if len(set(rows)) != len(rows):
        raise argparse.ArgumentTypeError(f"{text!r} names a row twice")
    return rows


def chosen_rows(args: argparse.Namespace, settings: list[Setting]) -> list[int]:
    """The rows to run: ``--rows`` (checked against the sweep), else all; ``--against``
    must be one of them."""
    rows = list(range(len(settings))) if args.rows is None else args.rows
    for flag, wanted in (("--rows", rows),
                         ("--against", [] if args.against is None else [args.against])):
        outside = [i for i in wanted if not 0 <= i < len(settings)]
        if outside:
            raise SystemExit(f"{flag}: row {outside[0]} is not in this sweep, which runs "
                             f"rows 0 to {len(settings) - 1} on this network")
    if args.against is not None and args.against not in rows:
        raise SystemExit(f"--against {args.against}: that row is not among --rows "
                         f"{','.join(map(str, rows))}")
    return rows


def main() -> None:
    args = parse_args()
    settings = [Setting(*row) for row in SWEEPS[args.sweep]]
    settings = [s for s in settings if args.reads_bonus or s.bonus == 0.0]
    rows = chosen_rows(args, settings)
    tasks = tuning_tasks(args.mdps, args.suite, args.first)
    jobs = [(i, t, s) for i in rows for t in range(len(tasks)) for s in range(args.seeds)]
    values = run_jobs(jobs, settings, tasks, args)
    table: dict[int, list[float]] = {}
    for (i, _, _), v in zip(jobs, values, strict=True):
        table.setdefault(i, []).append(v)
    print_table(settings, table, args, len(tasks))
    if args.against is not None:
        print_paired(settings, table, args.against, len(tasks), args.seeds)


def run_jobs(jobs: list[tuple[int, int, int]], settings: list[Setting], tasks: list[Task],
             args: argparse.Namespace) -> list[float]:
    """The score of every (row, MDP, seed) job, in order: those already in ``--runs`` are
    read, the others run (each appended to it as soon as it comes back, in job order)."""
    done = {} if args.runs is None else read_runs(args.runs, provenance(args))
    todo = [job for job in jobs if _run_key(job, args.first) not in done]
    results = joblib.Parallel(n_jobs=args.jobs, return_as="generator")(
        joblib.delayed(score)(settings[i], tasks[t], s, args.episodes, args.checkpoint)
        for i, t, s in todo)
    for job, value in zip(todo, tqdm(results, total=len(todo), desc="tune-fm"), strict=True):
        done[_run_key(job, args.first)] = value
        if args.runs is not None:
            append_run(args.runs, job, value, args.first)
    return [done[_run_key(job, args.first)] for job in jobs]


def print_table(settings: list[Setting], table: dict[int, list[float]],
                args: argparse.Namespace, mdps: int) -> None:
    rows = [[i, p, what, "-" if temp is None else temp, "train" if r is None else r,
             "-" if virt is None else virt, b, "yes" if rs else "no", f, m, tau,
             f"{np.mean(table[i]):.3f}", f"{np.median(table[i]):.3f}"]
            for i, (p, what, temp, r, virt, b, rs, f, m, tau) in enumerate(settings)
            if i in table]
    print(f"{mdps} synthetic tuning MDPs ({args.suite} suite), {args.seeds} seeds, "
          f"{args.episodes} episodes; network {args.checkpoint.name}")
    print(tabulate(rows, headers=["row", "protocol", "varied", "temperature", "rounds",
                                  "virtual", "bonus", "range scale", "refresh", "floor",
                                  "head below", "mean score", "median"],
                   tablefmt="github", disable_numparse=True))


def provenance(args: argparse.Namespace) -> str:
    """The first line of a ``--runs`` file: what its runs were made with."""
    weights = hashlib.sha256((args.checkpoint / "model.safetensors").read_bytes())
    return (f"# tune_fm runs: sweep={args.sweep} suite={args.suite} "
            f"episodes={args.episodes} checkpoint={weights.hexdigest()[:12]}")


def _run_key(job: tuple[int, int, int], first: int) -> tuple[int, int, int]:
    """A run's identity in a ``--runs`` file: its row in the sweep, the MDP's index in
    its suite and the seed."""
    row, t, seed = job
    return row, first + t, seed


def read_runs(path: Path, header: str) -> dict[tuple[int, int, int], float]:
    """The runs already in a ``--runs`` file, after checking its first line is ``header``;
    a new (or empty) file gets the header. A last line cut short by a stop is removed, so
    that run is made again."""
    text = path.read_text() if path.exists() else ""
    if not text:
        path.write_text(f"{header}\n{RUNS_COLUMNS}\n")
        return {}
    lines = text.splitlines()
    if lines[:2] != [header, RUNS_COLUMNS]:
        raise SystemExit(f"{path} holds other runs ({lines[0]!r}); this sweep is "
                         f"{header!r}: use another file")
    if not text.endswith("\n"):
        lines.pop()
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, path)
    return parse_runs(lines[2:], str(path))


def append_run(path: Path, job: tuple[int, int, int], value: float, first: int) -> None:
    """One CSV line for a finished run (``repr`` of the score: every bit)."""
    with open(path, "a") as f:
        f.write(",".join(map(str, _run_key(job, first))) + f",{value!r}\n")


def print_paired(settings: list[Setting], table: dict[int, list[float]], against: int,
                 mdps: int, seeds: int) -> None:
    """Each row's paired difference to row ``against`` (same MDPs, same seeds)."""
    base = np.array(table[against]).reshape(mdps, seeds)
    rows = []
    for i, setting in enumerate(settings):
        if i == against or i not in table:
            continue
        mean, low, high = paired_interval(np.array(table[i]).reshape(mdps, seeds) - base)
        rows.append([i, setting.refresh, setting.refresh_floor, setting.follow_head_below,
                     f"{mean:+.4f}", f"[{low:+.4f}, {high:+.4f}]"])
    print(f"\nPaired against row {against} ({settings[against].varied}, refresh "
          f"{settings[against].refresh}): mean over MDPs of (row - it), 95% bootstrap CI")
    print(tabulate(rows, headers=["row", "refresh", "floor", "head below", "difference", "95% CI"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
