"""The synthetic-prior foundation model: a graph attention network that reads the experience
statistic and outputs a policy in context, with no gradient step on the task.

After Zighem & Vie (2026), "Reinforcement Learning Foundation Models Should Already Be A
Thing", arXiv 2606.18812. Pretrained only on synthetic MDPs (rlbench_icl.synthetic: the paper's
prior and a wider one); never on a benchmark task. Model, prior, trainer: rlbench_icl/fm/;
the shipped checkpoint, its config, training log and model card: gnn_fm_checkpoint/.

The shipped network (v6) reads two extra inputs: per pair, the advantages of two exact plans
on the empirical model (an R-max one, where untried pairs pay the reward scale — the largest
reward seen, online since 5.1 at least the declared bound — and a pessimistic one;
rlbench_icl/fm/features.py: planned_advantages), read on a log scale (new in v5: gaps of
1e-4 of reward scale x horizon are readable), and per MDP an R-max bonus beta: it was
trained to output the optimal policy of the true MDP in which every pair the context has not
tried pays beta * H * max|r| once (beta > 0 optimism, < 0 pessimism). For finite horizons,
targets and plans use the discount 1 - c/H (since v4; c = 1 until v5, 0.3 in v6), so that the
first step's policy is a good one for every step. Since v5 the target's temperature is in
units of each state's spread of Q* (at most max|r|), so it says which action is best even
where actions differ little. New in v6: the network reads the steps left to go and was trained
on the policies of later steps too (targets from Q* with h steps left), so it can give one
policy per step (a non-stationary policy, as the finite-horizon optimum may be).

Online: after every episode the statistic of all experience so far (visit counts, mean
rewards, empirical successors) is fed to the network with beta = ONLINE_BONUS = 1.0, rewards
read in units of at least the task's declared bound on |reward| (ONLINE_RANGE_SCALE, new in
release 5.1: small rewards found first no longer make untried pairs look worthless); the
agent acts by sampling softmax(logits / TEMPERATURE) with TEMPERATURE = 0.1, and offers the
greedy policy at beta = 0 as its exploitation policy. Offline: the dataset's statistic, with
a pessimistic virtual outcome (PESSIMISM: 1 pseudo-transition per pair to a lasting trap that
pays, on every step, the lowest mean reward seen on pairs never seen entering a terminal
state, or 0 if higher; rlbench_icl/fm/virtual.py) and beta = 0, gives the greedy policy; for
finite horizons (since release 6) one per step: H - t steps left at step t, computed for
every step of the last 32 and every x1.2 before (STEP_GRID). Online keeps one policy per
episode, the first step's (one forward pass per refresh).

All settings were chosen on synthetic tuning MDPs only, never by a benchmark task's score
(benchmarks/tune_fm.py and offline_sizes.py, results in benchmarks/tune_fm.md); the ideas
behind the lasting traps of releases 3.1-5 came from diagnosing held-out failures, as
tune_fm.md discloses. The network's weights never change at use; the version names the
checkpoint's hash.
"""

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from rlbench_icl import ExperienceStatistic, Submission, TaskInfo, greedy_policy

CHECKPOINT = Path(__file__).with_name("gnn_fm_checkpoint")
# Chosen on synthetic tuning MDPs, never on benchmark tasks (benchmarks/tune_fm.py, .md).
TEMPERATURE = 0.1
ONLINE_BONUS = 1.0  # the network's R-max bonus input beta: optimism online
OFFLINE_BONUS = 0.0
ROUNDS = None  # None: as many propagation rounds as in training
# Virtual outcome (pseudo-count, reward multiple[, lasting]) added to every pair: optimism
# online, pessimism offline (rlbench_icl/fm/virtual.py). None: the plain statistic.
OPTIMISM: tuple | None = None
PESSIMISM: tuple | None = (1.0, "worst-recurring", True)
# Read rewards in units of at least the task's known bound on |reward| (TaskInfo.reward_range,
# as UCB-VI does), not only the largest |reward| seen so far, online / offline.
ONLINE_RANGE_SCALE = True
OFFLINE_RANGE_SCALE = False
STEP_BATCH = 8  # contexts per forward pass of a per-step policy (memory: ~8x one pass)
# Per-step policies: steps left 1..32 each get their own forward pass; beyond, a step uses the
# policy of the next planned steps-left value above it, planned every x1.2 (43 passes for
# H = 200 instead of 200). Chosen on the tuning suites' exact targets: per-step value 0.99993 /
# 0.99985 (default / explore) against 0.99993 / 0.99986 planning every step.
STEP_GRID = (32, 1.2)


def load_network():
    """The network in ``CHECKPOINT`` (loaded once per process and directory; tuning scripts
    point ``CHECKPOINT`` at other networks)."""
    return _load_network(Path(CHECKPOINT))


@lru_cache(maxsize=2)
def _load_network(checkpoint: Path):
    import torch

    from rlbench_icl.fm.train import load_model

    torch.set_num_threads(1)  # one run per worker process; determinism across runs
    if not (checkpoint / "model.safetensors").exists():
        raise FileNotFoundError(f"no trained checkpoint in {checkpoint}: train one with "
                                "`rlbench-icl train-fm` (see its MODEL_CARD.md)")
    return load_model(checkpoint)[0]


def policy_logits(info: TaskInfo, stat: ExperienceStatistic, rounds: int | None = ROUNDS,
                  virtual: tuple | None = None, bonus: float = 0.0,
                  range_scale: bool = False) -> np.ndarray:
    """(S, A) logits of the network for a statistic and confidence bonus ``bonus``;
    ``virtual`` = (pseudo-count, reward multiple or "worst"[, lasting]) adds a virtual
    outcome to every pair first (rlbench_icl.fm.virtual); ``range_scale``: rewards (and a
    virtual outcome's reward multiple) read in units of at least the task's declared bound
    on |reward|. Default False, the plain reading; the agent and ``solve_offline`` pass
    ``ONLINE_RANGE_SCALE`` and ``OFFLINE_RANGE_SCALE``."""
    return batched_logits(info, stat, rounds, virtual, (bonus,), range_scale)[0]


def batched_logits(info: TaskInfo, stat: ExperienceStatistic, rounds: int | None,
                   virtual: tuple | None, bonuses: tuple[float, ...],
                   range_scale: bool = False) -> list[np.ndarray]:
    """``policy_logits`` for several bonuses in one forward pass (one batch)."""
    from rlbench_icl.fm.features import featurize, with_bonus

    stat, floor = _read(info, stat, virtual, range_scale)
    context = featurize(stat, info.horizon, info.discount, info.objective,
                        scale_floor=floor, **load_network().config.inputs())
    return _forward(info, [with_bonus(context, b) for b in bonuses], rounds)


def step_logits(info: TaskInfo, stat: ExperienceStatistic, rounds: int | None = ROUNDS,
                virtual: tuple | None = None, bonus: float = 0.0,
                range_scale: bool = False) -> np.ndarray:
    """(H, S, A) logits of a network that reads the steps left to go, for a finite-horizon
    task: row t is the policy of step t (H - t steps to go), or of the next steps-left value
    above in ``planned_steps``. Forward passes in batches of ``STEP_BATCH`` (the statistic is
    read and planned once)."""
    from rlbench_icl.fm.features import featurize_steps

    stat, floor = _read(info, stat, virtual, range_scale)
    planned, serves = step_plan(info.horizon)
    contexts = featurize_steps(stat, info.horizon, info.discount, info.objective, bonus=bonus,
                               scale_floor=floor, steps=planned,
                               **load_network().config.inputs())
    logits = np.stack([lg for i in range(0, len(contexts), STEP_BATCH)
                       for lg in _forward(info, contexts[i:i + STEP_BATCH], rounds)])
    return logits[serves]


def planned_steps(horizon: int, grid: tuple[int, float] = STEP_GRID) -> list[int]:
    """The steps-left values a per-step policy is computed for, ascending: every one up to
    ``grid[0]``, then every ``grid[1]``-fold (at least one more), and H."""
    exact, ratio = grid
    steps, x = list(range(1, min(horizon, exact) + 1)), float(exact)
    while x < horizon:
        x = max(x * ratio, x + 1)
        steps.append(min(horizon, int(np.ceil(x))))
    return sorted(set(steps))


def step_plan(horizon: int) -> tuple[list[int], np.ndarray]:
    """``planned_steps(horizon)`` and, for each step t, the index of the planned steps-left
    value that serves it: the next at or above H - t (benchmarks/stationary_ceiling.py
    scores exact targets through this same mapping)."""
    planned = planned_steps(horizon)
    return planned, np.searchsorted(planned, horizon - np.arange(horizon))


def reads_steps_left(info: TaskInfo) -> bool:
    """Whether the network gives a per-step policy for this task (finite horizons only)."""
    return info.objective == "finite" and load_network().config.steps_left_input


def _read(info: TaskInfo, stat: ExperienceStatistic, virtual: tuple | None,
          range_scale: bool) -> tuple[ExperienceStatistic, float]:
    """The statistic the network reads (with a virtual outcome, if any) and its scale floor."""
    from rlbench_icl.fm.virtual import with_virtual_outcome

    floor = info.reward_bound if range_scale else 0.0
    if virtual is not None:
        stat = with_virtual_outcome(stat, *virtual, scale_floor=floor)
    return stat, floor


def _forward(info: TaskInfo, contexts: list, rounds: int | None) -> list[np.ndarray]:
    import torch

    from rlbench_icl.fm.features import collate

    with torch.no_grad():
        logits, _ = load_network()(collate(contexts), num_rounds=rounds)
    return [lg[:info.num_states].numpy().astype(np.float64) for lg in logits]


class FoundationModelAgent:
    def __init__(self, info: TaskInfo, rng: np.random.Generator,
                 temperature: float = TEMPERATURE, rounds: int | None = ROUNDS,
                 optimism: tuple | None = OPTIMISM,
                 bonus: float = ONLINE_BONUS, range_scale: bool = ONLINE_RANGE_SCALE):
        self.info, self.rng, self.temperature, self.rounds = info, rng, temperature, rounds
        self.optimism, self.bonus, self.range_scale = optimism, bonus, range_scale
        self.stat = ExperienceStatistic(info.num_states, info.num_actions)
        self._refresh()

    def act(self, state: int, step: int) -> int:
        cdf = self.cdf[state]
        return int(min(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right"),
                       len(cdf) - 1))

    def observe(self, state, action, reward, next_state, terminated) -> None:
        self.stat.update(state, action, reward, next_state, terminated)

    def end_episode(self) -> None:
        self._refresh()

    def policy(self) -> np.ndarray:
        """Greedy on the posterior policy (no bonus): exploitation, not exploration."""
        return greedy_policy(self.exploit_logits)

    def _refresh(self) -> None:
        if self.bonus == 0.0:
            self.logits = self.exploit_logits = policy_logits(
                self.info, self.stat, self.rounds, self.optimism, 0.0, self.range_scale)
        else:  # the exploring and the exploiting (no bonus) policy in one forward pass
            self.logits, self.exploit_logits = batched_logits(
                self.info, self.stat, self.rounds, self.optimism, (self.bonus, 0.0),
                self.range_scale)
        scaled = (self.logits - self.logits.max(axis=1, keepdims=True)) / self.temperature
        self.cdf = np.cumsum(np.exp(scaled), axis=1)


def solve_offline(info: TaskInfo, dataset, rng: np.random.Generator,
                  rounds: int | None = ROUNDS,
                  pessimism: tuple | None = PESSIMISM,
                  bonus: float = OFFLINE_BONUS,
                  range_scale: bool = OFFLINE_RANGE_SCALE) -> np.ndarray:
    """Greedy on the network's policy for the dataset's statistic: (H, S, A), one policy per
    step, if the network reads the steps left (release 6), else one (S, A) policy."""
    stat = ExperienceStatistic.from_dataset(dataset, info.num_states, info.num_actions)
    if reads_steps_left(info):
        return greedy_policy(step_logits(info, stat, rounds, pessimism, bonus, range_scale))
    return greedy_policy(policy_logits(info, stat, rounds, pessimism, bonus, range_scale))


def checkpoint_version(release: str) -> str:
    """``release+<first 12 hex digits of the weights' SHA-256>``: a retrained checkpoint is
    a new version, so its results never mix with the old ones'."""
    weights = CHECKPOINT / "model.safetensors"
    if not weights.exists():
        return f"{release}+untrained"
    return f"{release}+{hashlib.sha256(weights.read_bytes()).hexdigest()[:12]}"


SUBMISSION = Submission(
    name="gnn-fm",
    version=checkpoint_version("6"),
    make_online_agent=FoundationModelAgent,
    solve_offline=solve_offline,
    authors="rlbench-icl developers (after Zighem & Vie 2026)",
    description="Graph-attention foundation model pretrained on synthetic MDPs; in context.",
)
