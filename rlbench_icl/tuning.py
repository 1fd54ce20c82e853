"""Synthetic tuning suites: the MDPs every reference setting was chosen on. Never benchmark tasks.

Fair tuning uses no benchmark task. The suites' MDPs come from the synthetic priors any
foundation model may pretrain on (``rlbench_icl.synthetic``), drawn from a stream of their
own (``TUNING_SEED``), and only MDPs with a real gap between optimal and random are kept (else
normalised scores explode). Three suites:

- ``default``: one in three MDPs from the paper's prior, the rest from the wide prior with
  horizons capped at 60 (``TUNING_PRIOR``, to keep sweeps affordable);
- ``explore``: sparse far goals only (``EXPLORATION_PRIOR``), on a stream of its own;
- ``gaps``: chains of varied length and bandits with small gaps under reward noise, in turn
  (``CHAIN_PRIOR``, ``BANDIT_PRIOR``: exploration that sparse goals do not ask for), on a
  stream of its own.

Settings are scored as the benchmark scores them: ``online_score`` (mean normalised return
over K episodes) and ``offline_score`` (mean exact normalised value over behaviours and
dataset sizes). ``fm_submission`` builds the foundation model's agent and solver on any
checkpoint with any reading. The studies that use all this live in ``experiments/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .contract import Dataset, Submission, TaskInfo
from .mdp import TabularMDP
from .protocols import OfflineSettings, OnlineSettings, run_offline, run_online
from .synthetic import BANDIT_PRIOR, CHAIN_PRIOR, PAPER_PRIOR, WIDE_PRIOR, sample_mdp
from .tasks import Task, TaskSpec

if TYPE_CHECKING:
    from .fm.policy import Reading

TUNING_SEED = 20261124
TUNING_PRIOR = dataclasses.replace(WIDE_PRIOR, name="wide-tuning", horizons=(10, 60))
# A harder suite for exploration settings: every MDP pays only on entering one far goal.
EXPLORATION_PRIOR = dataclasses.replace(WIDE_PRIOR, name="explore-tuning", num_states=(16, 64),
                                        sparse_goal_prob=1.0, horizons=(20, 100))
SUITES = ("default", "explore", "gaps")
STREAMS = {"default": TUNING_SEED, "explore": [TUNING_SEED, 1], "gaps": [TUNING_SEED, 2]}
TUNING_SIZES = (5, 50)  # dataset episodes of the offline tuning score
TUNING_EPSILONS = (1.0, 0.5, 0.1)  # behaviours: uniform, and 0.5- and 0.1-mixtures


def tuning_tasks(count: int, suite: str = "default", first: int = 0) -> list[Task]:
    """``count`` MDPs of a suite (``SUITES``) as tasks, from its ``first``-th on (0-based);
    the same on every call. MDPs a study has not used (those past the ones it read) give a
    fresh sample of the same suite to confirm a choice on.

    Kept: MDPs whose optimal-random gap exceeds 5% of their largest |reward|."""
    if suite not in SUITES:
        raise ValueError(f"suite must be one of {SUITES}, got {suite!r}")
    if first < 0 or count < 0:
        raise ValueError(f"first and count must be at least 0, got {first} and {count}")
    rng = np.random.default_rng(STREAMS[suite])
    tasks: list[Task] = []
    while len(tasks) < first + count:
        if suite == "explore":
            prior = EXPLORATION_PRIOR
        elif suite == "gaps":
            prior = CHAIN_PRIOR if len(tasks) % 2 == 0 else BANDIT_PRIOR
        else:
            prior = PAPER_PRIOR if len(tasks) % 3 == 0 else TUNING_PRIOR
        task = synthetic_task(sample_mdp(rng, prior), len(tasks))
        if task.optimal_value - task.random_value > 0.05 * max(task.mdp.reward_bound(), 1e-12):
            tasks.append(task)
    return tasks[first:]


def synthetic_task(mdp: TabularMDP, index: int) -> Task:
    """A synthetic MDP as the task ``Tuning<index>-v0``, so the protocols can run on it and
    its exact values (``optimal_value``, ``random_value``, ``normalise``) are at hand."""
    spec = TaskSpec(id=f"Tuning{index}-v0", description="synthetic", reference="",
                    tags=("tuning",), builder="synthetic", params={},
                    horizon=mdp.horizon, discount=mdp.discount, objective=mdp.objective,
                    online_episodes=0, offline_dataset_episodes=TUNING_SIZES,
                    offline_epsilons=TUNING_EPSILONS, source=Path(__file__))
    return Task(spec=spec, mdp=mdp)


def online_score(task: Task, submission: Submission, seed: int, episodes: int) -> float:
    """The benchmark's online score of ``submission`` on ``task`` over ``episodes``."""
    return run_online(task, submission, OnlineSettings(episodes), seed)["scores"]["online_score"]


def offline_score(task: Task, submission: Submission, seed: int) -> float:
    """The benchmark's offline score on datasets of ``TUNING_SIZES`` episodes from the
    ``TUNING_EPSILONS`` behaviours."""
    settings = OfflineSettings(dataset_episodes=TUNING_SIZES, epsilons=TUNING_EPSILONS)
    return run_offline(task, submission, settings, seed)["scores"]["offline_score"]


def offline_cells(task: Task, submission: Submission, seed: int, sizes: Sequence[int]
                  ) -> list[dict]:
    """The offline protocol's cells (one per behaviour in ``TUNING_EPSILONS`` and size)."""
    settings = OfflineSettings(dataset_episodes=tuple(sizes), epsilons=TUNING_EPSILONS)
    return run_offline(task, submission, settings, seed)["cells"]


RUNS_COLUMNS = "row,mdp,seed,score"
"""The second line of a tuning runs file (``experiments/tune_fm.py --runs``); the first
says what its runs were made with."""


def parse_runs(lines: Sequence[str], where: str) -> dict[tuple[int, int, int], float]:
    """(row, MDP, seed) -> score of a runs file's run lines (those after its two header
    lines). Raises ``ValueError`` naming the line that is not a run."""
    runs = {}
    for number, line in enumerate(lines, start=3):
        try:
            row, mdp, seed, value = line.split(",")
            runs[(int(row), int(mdp), int(seed))] = float(value)
        except ValueError:
            raise ValueError(f"{where}, line {number}: {line!r} is not a run") from None
    return runs


def paired_interval(differences: np.ndarray, resamples: int = 2000, seed: int = 0
                    ) -> tuple[float, float, float]:
    """Mean of per-MDP differences (rows: MDPs, columns: seeds) and its 95% percentile
    bootstrap CI, MDPs resampled with replacement (a seed's runs stay with their MDP)."""
    per_mdp = differences.mean(axis=1)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(per_mdp), size=(resamples, len(per_mdp)))
    means = per_mdp[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(per_mdp.mean()), float(low), float(high)


def fm_submission(checkpoint: str | Path, reading: Reading, temperature: float = 0.1,
                  refresh_ratio: float = 1.0, refresh_floor: float = 0.0,
                  follow_head_below: float = math.inf) -> Submission:
    """The foundation model in ``checkpoint`` as a submission that reads every statistic as
    ``reading`` says: online it samples at ``temperature``, re-reads its experience as
    ``refresh_ratio`` and ``refresh_floor`` say and (a mixture network) follows a drawn head
    as ``follow_head_below`` says (``InContextAgent``); offline it plays greedily.

    How the experiments vary gnn-fm's settings without touching the submission; torch is
    imported here, not with this module."""
    from .fm.policy import InContextAgent, load_network, offline_policy

    network = load_network(checkpoint)

    def make_online_agent(info: TaskInfo, rng: np.random.Generator) -> InContextAgent:
        return InContextAgent(network, info, rng, reading, temperature, refresh_ratio,
                              refresh_floor, follow_head_below)

    def solve_offline(info: TaskInfo, dataset: Dataset, rng: np.random.Generator
                      ) -> np.ndarray:
        return offline_policy(network, info, dataset, reading)

    return Submission(name="gnn-fm-tuning", version="0",
                      make_online_agent=make_online_agent, solve_offline=solve_offline)



def refresh_variant(file_name: str, name: str, reading_attr: str, refresh_ratio: float,
                    refresh_floor: float = 0.0, checkpoint: str | Path | None = None
                    ) -> Submission:
    """The foundation-model submission in ``submissions/<file_name>`` re-reading its
    experience as ``refresh_ratio`` and ``refresh_floor`` say, everything else its own (its
    ``CHECKPOINT`` unless ``checkpoint`` is given, ``TEMPERATURE`` and the reading named
    ``reading_attr``), renamed ``name``, its declared files as absolute paths: how the
    experiments time a cadence with ``benchmarks/task_costs.py`` without touching the
    submission."""
    from .discovery import SUBMISSIONS_DIR, _import_file

    module = _import_file(SUBMISSIONS_DIR / file_name)
    agent = fm_submission(checkpoint or module.CHECKPOINT, getattr(module, reading_attr),
                          module.TEMPERATURE, refresh_ratio, refresh_floor)
    files = tuple(str(SUBMISSIONS_DIR / f) for f in module.SUBMISSION.files)
    version, frozen_state = module.SUBMISSION.version, module.SUBMISSION.frozen_state
    if checkpoint is not None:  # the network it reads instead of the shipped one
        from .fm.policy import checkpoint_version, load_network, weights_hash

        version = checkpoint_version("candidate", checkpoint)
        files = tuple(str(Path(checkpoint).resolve() / f)
                      for f in ("model.safetensors", "config.json"))
        frozen_state = lambda: weights_hash(load_network(checkpoint))  # noqa: E731
    return dataclasses.replace(module.SUBMISSION, name=name, version=version, files=files,
                               make_online_agent=agent.make_online_agent,
                               frozen_state=frozen_state)


def add_suite_arguments(parser: argparse.ArgumentParser, online: bool = True) -> None:
    """The options every tuning study shares: ``--mdps``, ``--seeds``, ``--jobs``,
    ``--suite`` and, for studies that play online, ``--episodes`` (the budget K)."""
    parser.add_argument("--mdps", type=int, default=24, help="tuning MDPs (default: 24)")
    parser.add_argument("--first", type=int, default=0,
                        help="index of the suite's first MDP to use (default: 0)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per MDP (default: 2)")
    if online:
        parser.add_argument("--episodes", type=int, default=100, help="online budget")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--suite", choices=SUITES, default="default",
                        help="tuning MDPs: the default suite, or sparse far goals only")
