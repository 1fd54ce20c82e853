"""Choosing the foundation model's inference settings on synthetic MDPs only: the online
sampling temperature and confidence bonus (the network's beta input: optimism), and the
offline bonus (pessimism), against the virtual-outcome pessimism of rlbench_icl/fm/virtual.py.

Two suites of synthetic tuning MDPs (benchmarks/tune_baselines.py): ``default``, the
baselines' suite, and ``explore``, sparse far goals only. Online settings are scored by the
online score over ``--episodes`` episodes (use budgets like the benchmark's, 200-1500: a
setting that wins short runs can lose long ones); offline settings by the offline score
(datasets of 5 and 50 episodes, behaviours uniform, 0.5- and 0.1-mixtures). No benchmark
task is used.

Usage: python benchmarks/tune_fm.py [--suite default|explore] [--mdps N] [--seeds N]
       [--episodes K] [--jobs N] [--checkpoint DIR] [--sweep NAME]

``--checkpoint``: another exported network (default: the shipped one). ``--sweep`` (one of
SWEEPS): the shipped network's settings (``inference``), or the confidence bonus of a network
trained with the ``sqrt`` (``bonus``) or ``untried`` (``rmax``) form; nonzero bonuses are tried
only on a network with a bonus input (``bonus_input``); ``values``: temperature and pessimism
of a network that reads exact plans' advantages (``value_features``); ``trap``: the virtual
trap offline on a bonus network; ``vsqrt``: temperature, bonus and trap of a network reading
plans with a ``sqrt`` bonus; ``lasting``: lasting virtual outcomes (``virtual.py``) on the
shipped network; ``worst``: lasting traps as bad as the worst reward seen; ``greedier``:
online temperature against beta on the shipped network; ``online``: temperature and beta of
a new network (``--checkpoint``).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import joblib
import numpy as np
from tabulate import tabulate
from tqdm.auto import tqdm

from rlbench_icl.discovery import SUBMISSIONS_DIR, _import_file
from rlbench_icl.errors import ConfigError
from rlbench_icl.fm.train import load_model

sys.path.insert(0, str(Path(__file__).parent))
from tune_baselines import play, tuning_parser, tuning_tasks  # noqa: E402

# (protocol, what is varied, temperature, rounds, virtual outcome (pseudo-count, multiple
#  or "worst"[, lasting]),
#  confidence bonus beta)
SWEEPS = {
    # The shipped network's settings: temperature, rounds, virtual-outcome optimism/pessimism.
    "inference": (
        [("online", "temperature", t, None, None, 0.0) for t in (0.1, 0.2, 0.3, 0.5, 1.0)]
        + [("offline", "rounds", None, r, None, 0.0) for r in (None, 20)]
        + [("online", "optimism", 0.3, None, v, 0.0)
           for v in ((0.5, 1), (1, 0.5), (1, 1), (1, 2), (1, 3), (3, 1))]
        + [("offline", "pessimism", None, None, v, 0.0)
           for v in ((1, -0.5), (1, -1), (1, -3), (3, -1))]),
    # A network with a confidence-bonus input (benchmarks/fm_bonus.toml), against no bonus.
    "bonus": (
        [("online", "temperature, bonus", t, None, None, b)
         for t in (0.05, 0.2) for b in (0.0, 0.01, 0.03, 0.1, 0.3)]
        + [("offline", "bonus", None, None, None, b)
           for b in (0.0, -0.01, -0.03, -0.1, -0.3, -1.0)]
        + [("offline", "virtual", None, None, (3, -1), 0.0)]),
    # A network with an R-max bonus input (benchmarks/fm_rmax.toml): beta in [0.03, 1].
    "rmax": (
        [("online", "bonus", 0.2, None, None, b) for b in (0.0, 0.1, 0.3, 1.0)]
        + [("offline", "bonus", None, None, None, b) for b in (0.0, -0.1, -0.3, -1.0)]),
    # A network reading exact plans' advantages (benchmarks/fm_values.toml).
    "values": (
        [("online", "temperature", t, None, None, 0.0) for t in (0.05, 0.1, 0.2, 0.5)]
        + [("offline", "pessimism", None, None, v, 0.0) for v in (None, (1, -1), (3, -1))]),
    # The virtual trap on a bonus network (benchmarks/fm_values_rmax.toml), with and
    # without its learned pessimism.
    "trap": [("offline", "trap, bonus", None, None, v, b)
             for v in ((1, -1), (3, -1)) for b in (0.0, -0.1)],
    # A network reading plans with a count-based (sqrt) bonus input
    # (benchmarks/fm_values_sqrt.toml): temperature and optimism online, pessimism offline.
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
    # temperature and beta online (offline: benchmarks/offline_sizes.py).
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
    "range-offline": [("offline", "range scale", None, None, (1.0, "worst-recurring", True),
                       0.0, rs) for rs in (False, True)],
}


def fm_module(checkpoint: Path):
    """The gnn_fm submission module, pointed at the network in ``checkpoint``."""
    fm = _import_file(SUBMISSIONS_DIR / "gnn_fm.py")
    fm.CHECKPOINT = checkpoint  # read by load_network() in this (worker) process
    return fm


def score(protocol, temperature, rounds, virtual, bonus, range_scale, task, seed, episodes,
          checkpoint) -> float:
    fm = fm_module(checkpoint)
    if protocol == "offline":
        solver = functools.partial(fm.solve_offline, rounds=rounds, pessimism=virtual,
                                   bonus=bonus, range_scale=range_scale)
        return play(True, solver, task, seed, episodes)
    factory = functools.partial(fm.FoundationModelAgent, temperature=temperature,
                                rounds=rounds, optimism=virtual, bonus=bonus,
                                range_scale=range_scale)
    return play(False, factory, task, seed, episodes)


def main() -> None:
    parser = tuning_parser(__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=SUBMISSIONS_DIR / "gnn_fm_checkpoint")
    parser.add_argument("--sweep", choices=tuple(SWEEPS), default="inference")
    args = parser.parse_args()
    checkpoint = args.checkpoint.resolve()
    try:
        has_bonus = load_model(checkpoint)[1].model.bonus_input
    except ConfigError as exc:
        parser.error(str(exc))
    # a setting is (protocol, what, temperature, rounds, virtual, bonus[, range scale])
    settings = [cfg + (False,) * (7 - len(cfg)) for cfg in SWEEPS[args.sweep]]
    settings = [cfg for cfg in settings if has_bonus or cfg[5] == 0.0]
    tasks = tuning_tasks(args.mdps, args.suite)
    jobs = [(cfg, t, s) for cfg in settings for t in range(len(tasks))
            for s in range(args.seeds)]
    values = joblib.Parallel(n_jobs=args.jobs)(
        joblib.delayed(score)(p, temp, r, v, b, rs, tasks[t], s, args.episodes, checkpoint)
        for (p, _, temp, r, v, b, rs), t, s in tqdm(jobs, desc="tune-fm"))
    table: dict = {}
    for (cfg, _, _), v in zip(jobs, values, strict=True):
        table.setdefault(cfg, []).append(v)
    rows = [[p, what, "-" if temp is None else temp, "train" if r is None else r,
             "-" if virt is None else virt, b, "yes" if rs else "no",
             f"{np.mean(v):.3f}", f"{np.median(v):.3f}"]
            for (p, what, temp, r, virt, b, rs), v in table.items()]
    print(f"{len(tasks)} synthetic tuning MDPs ({args.suite} suite), {args.seeds} seeds, "
          f"{args.episodes} episodes; network {checkpoint.name}")
    print(tabulate(rows, headers=["protocol", "varied", "temperature", "rounds", "virtual",
                                  "bonus", "range scale", "mean score", "median"],
                   tablefmt="github", disable_numparse=True))


if __name__ == "__main__":
    main()
