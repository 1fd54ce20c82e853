"""In-context inference: from a trained network and an experience statistic to a policy.

Everything here takes the network and its settings as arguments, so a submission, a
benchmark and a tuning study call the same functions on any checkpoint:

- ``load_network(checkpoint)``: a trained network, loaded once per process;
- ``policy_logits`` / ``batched_logits``: (S, A) logits for one statistic (several bonuses
  in one forward pass);
- ``step_logits``: (H, S, A) logits, one policy per step, for a network that reads the steps
  left (finite horizons);
- ``offline_policy``: the greedy policy for a dataset;
- ``batched_heads``: for a mixture network, its weights and every head's logits;
- ``InContextAgent``: the online agent, which re-reads all its experience after every
  episode (or once some pair's count grew enough); the weights never change. With a mixture
  network it draws one head per episode and follows it (only while the mixture is unsure,
  with ``follow_head_below``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..contract import Dataset, TaskInfo
from ..dynprog import greedy_policy
from ..experience import ExperienceStatistic
from .features import Context, collate, featurize, featurize_steps, with_bonus
from .model import PolicyNetwork, marginal_logits, pinned_kernels
from .train import load_model
from .virtual import VirtualOutcome, with_virtual_outcome

# Per-step policies: steps left 1..32 each get their own forward pass; beyond, a step uses the
# policy of the next planned steps-left value above it, planned every x1.2 (43 passes for
# H = 200 instead of 200). Chosen on the tuning suites' exact targets (experiments/tune_fm.md).
STEP_GRID = (32, 1.2)
STEP_BATCH = 8  # contexts per forward pass of a per-step policy (memory: ~8x one pass)
# Inference memory on large tasks (issue 23), linear in S * A * M: a forward pass takes at
# most PASS_PAIRS (s, a) pairs over its contexts (at least one context); if the successor
# keys it gathers for attention, B * S * A * M * d numbers, exceed ATTENTION_NUMBERS (64 MiB),
# it runs in slices of states that gather SLICE_NUMBERS (4 MiB) each. Every registered task
# runs whole (Taxi's 8 contexts: 24,000 pairs, 3 M numbers). At S = 10^5 slices of 4 MiB
# were both leaner and faster than of 64 MiB (+275 MB and 5.7 s against +734 MB and 12.6 s
# for one pass of the shipped network).
PASS_PAIRS = 1 << 18
ATTENTION_NUMBERS = 1 << 24
SLICE_NUMBERS = 1 << 20


@dataclass(frozen=True)
class Reading:
    """How the network is asked about a statistic.

    Attributes:
        bonus: the R-max bonus beta the policy plans with (> 0 explores, < 0 avoids the
            untried); read only by networks trained with it.
        virtual: a virtual outcome added to every pair first (``rlbench_icl.fm.virtual``).
        range_scale: read rewards (and a virtual outcome's reward multiple) in units of at
            least the task's declared bound on |reward|, not only the largest reward seen.
        rounds: propagation rounds (None: as many as in training).
    """

    bonus: float = 0.0
    virtual: VirtualOutcome | None = None
    range_scale: bool = False
    rounds: int | None = None


def load_network(checkpoint: str | Path) -> PolicyNetwork:
    """The network exported into ``checkpoint`` by ``train-fm`` (cached per process).

    Torch runs on one thread: one run per worker process, and bit-identical outputs."""
    return _load_network(Path(checkpoint).resolve())


@lru_cache(maxsize=4)
def _load_network(checkpoint: Path) -> PolicyNetwork:
    torch.set_num_threads(1)
    if not (checkpoint / "model.safetensors").exists():
        raise FileNotFoundError(f"no trained checkpoint in {checkpoint}: train one with "
                                "`rlbench-icl train-fm` (see its MODEL_CARD.md)")
    return load_model(checkpoint)[0]


def checkpoint_version(release: str, checkpoint: str | Path) -> str:
    """``release+<first 12 hex digits of the weights' SHA-256>``: a retrained checkpoint is
    a new version, so its results never mix with the old ones'."""
    weights = Path(checkpoint) / "model.safetensors"
    if not weights.exists():
        return f"{release}+untrained"
    return f"{release}+{hashlib.sha256(weights.read_bytes()).hexdigest()[:12]}"


def weights_hash(network: PolicyNetwork) -> str:
    """SHA-256 of the network's parameters and buffers as they are in memory (names, dtypes,
    shapes and bytes, in name order): a submission's ``frozen_state``, so that every run
    certifies the weights it played with did not change."""
    digest = hashlib.sha256()
    for name, tensor in sorted(network.state_dict().items()):
        data = tensor.detach().contiguous().cpu()
        digest.update(f"{name}:{data.dtype}:{tuple(data.shape)};".encode())
        digest.update(data.numpy().tobytes())
    return digest.hexdigest()


def policy_logits(network: PolicyNetwork, info: TaskInfo, stat: ExperienceStatistic,
                  reading: Reading = Reading()) -> np.ndarray:
    """(S, A) logits of the network for a statistic; invalid entries never occur."""
    return batched_logits(network, info, stat, reading, (reading.bonus,))[0]


def batched_logits(network: PolicyNetwork, info: TaskInfo, stat: ExperienceStatistic,
                   reading: Reading, bonuses: tuple[float, ...]) -> list[np.ndarray]:
    """``policy_logits`` for several bonuses (``reading.bonus`` is ignored) in one batch."""
    stat, floor = _read(info, stat, reading)
    context = featurize(stat, info, network.config.features, scale_floor=floor)
    return _forward(network, info, [with_bonus(context, b) for b in bonuses], reading.rounds)


def batched_heads(network: PolicyNetwork, info: TaskInfo, stat: ExperienceStatistic,
                  reading: Reading, bonuses: tuple[float, ...]
                  ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each bonus, ``(log pi (K,), logits (K, S, A), marginal (S, A))``: the mixture's
    log weights, every head's logits (``PolicyNetwork.heads``) and the marginal logits
    ``policy_logits`` gives, in one batch."""
    stat, floor = _read(info, stat, reading)
    context = featurize(stat, info, network.config.features, scale_floor=floor)
    return _forward(network, info, [with_bonus(context, b) for b in bonuses], reading.rounds,
                    heads=True)


def step_logits(network: PolicyNetwork, info: TaskInfo, stat: ExperienceStatistic,
                reading: Reading = Reading(), grid: tuple[int, float] = STEP_GRID
                ) -> np.ndarray:
    """(H, S, A) logits of a network that reads the steps left, for a finite-horizon task:
    row t is the policy of step t (H - t steps to go), or of the next steps-left value above
    in ``planned_steps``. The statistic is read and planned once."""
    stat, floor = _read(info, stat, reading)
    planned, serves = step_plan(info.horizon, grid)
    contexts = featurize_steps(stat, info, network.config.features, planned,
                               bonus=reading.bonus, scale_floor=floor)
    logits = np.stack([lg for i in range(0, len(contexts), STEP_BATCH)
                       for lg in _forward(network, info, contexts[i:i + STEP_BATCH],
                                          reading.rounds)])
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


def step_plan(horizon: int, grid: tuple[int, float] = STEP_GRID
              ) -> tuple[list[int], np.ndarray]:
    """``planned_steps(horizon, grid)`` and, for each step t, the index of the planned
    steps-left value that serves it: the next at or above H - t."""
    planned = planned_steps(horizon, grid)
    return planned, np.searchsorted(planned, horizon - np.arange(horizon))


def reads_steps_left(network: PolicyNetwork, info: TaskInfo) -> bool:
    """Whether the network gives a per-step policy for this task (finite horizons only)."""
    return info.objective == "finite" and network.config.features.steps_left


def offline_policy(network: PolicyNetwork, info: TaskInfo, dataset: Dataset,
                   reading: Reading = Reading()) -> np.ndarray:
    """Greedy on the network's policy for the dataset's statistic: (H, S, A), one policy per
    step, if the network reads the steps left and the horizon is finite, else (S, A)."""
    stat = ExperienceStatistic.from_dataset(dataset, info.num_states, info.num_actions)
    if reads_steps_left(network, info):
        return greedy_policy(step_logits(network, info, stat, reading))
    return greedy_policy(policy_logits(network, info, stat, reading))


class InContextAgent:
    """The online agent: after an episode the statistic of all its experience is read by
    the network; it acts by sampling ``softmax(logits / temperature)`` of the exploring
    reading, and offers the greedy policy of the same reading at beta = 0 as its
    exploitation policy. One policy per episode (the first step's).

    A mixture network (``policy_heads`` K > 1): at the start of every episode the agent
    draws a head k from the mixture's weights pi of the exploring reading, and samples
    ``softmax(logits_k / temperature)`` for the whole episode (a latent per episode, as
    posterior sampling follows one sampled model); its exploitation policy is greedy on the
    mixture's marginal at beta = 0. With ``follow_head_below`` tau, it follows the drawn head
    only while the mixture is unsure (the largest weight below tau); once one head holds at
    least tau, it samples ``softmax(marginal / temperature)`` for the episode, as a one-head
    network's agent does (the head is still drawn: one random number an episode either way).

    ``refresh_ratio`` f and ``refresh_floor`` m: the statistic is read again after an
    episode only if some pair it visited since the last reading has at least
    ``f * max(n_read, m)`` visits, n_read its count at that reading, as UCRL2's doubling
    epochs. With m = 0 a first visit always counts; with m = 1 a pair new since the last
    reading counts once it has f visits. f = 1 reads it after every episode."""

    def __init__(self, network: PolicyNetwork, info: TaskInfo, rng: np.random.Generator,
                 reading: Reading, temperature: float, refresh_ratio: float = 1.0,
                 refresh_floor: float = 0.0, follow_head_below: float = math.inf):
        if not refresh_ratio >= 1.0:
            raise ValueError(f"refresh_ratio must be at least 1, not {refresh_ratio}")
        if not refresh_floor >= 0.0:
            raise ValueError(f"refresh_floor must be at least 0, not {refresh_floor}")
        if not follow_head_below >= 0.0:
            raise ValueError(f"follow_head_below must be at least 0, not {follow_head_below}")
        self.network, self.info, self.rng = network, info, rng
        self.reading, self.temperature = reading, temperature
        self.refresh_ratio, self.refresh_floor = refresh_ratio, refresh_floor
        self.follow_head_below = follow_head_below
        self.stat = ExperienceStatistic(info.num_states, info.num_actions)
        self.read_visits = None  # the visit counts at the last reading (f > 1 only)
        self.follows_heads = network.config.policy_heads > 1
        self._refresh()
        self._start_episode()

    def act(self, state: int, step: int) -> int:
        return _draw(self.cdf[state], self.rng)

    def observe(self, state, action, reward, next_state, terminated) -> None:
        self.stat.update(state, action, reward, next_state, terminated)

    def end_episode(self) -> None:
        if self.refresh_ratio == 1.0 or self._changed_enough():
            self._refresh()
        self._start_episode()

    def _start_episode(self) -> None:
        """A mixture network's agent draws the head it follows in the next episode (one
        random number; a one-head network's agent draws none)."""
        if not self.follows_heads:
            return
        self.head = _draw(_cdf(self.log_pi, 1.0), self.rng)
        if np.exp(self.log_pi.max()) >= self.follow_head_below:  # the mixture is sure
            self.cdf = _cdf(self.logits, self.temperature)
        else:
            self.cdf = _cdf(self.head_logits[self.head], self.temperature)

    def _changed_enough(self) -> bool:
        """Whether a pair visited since the last reading has at least ``refresh_ratio``
        times the larger of its count then and ``refresh_floor``."""
        visits = self.stat.visits
        needed = self.refresh_ratio * np.maximum(self.read_visits, self.refresh_floor)
        return bool(np.any((visits > self.read_visits) & (visits >= needed)))

    def policy(self) -> np.ndarray:
        """Greedy at beta = 0: exploitation, not exploration."""
        return greedy_policy(self.exploit_logits)

    def _refresh(self) -> None:
        if self.refresh_ratio != 1.0:
            self.read_visits = self.stat.visits
        if self.follows_heads:
            self._refresh_mixture()
            return
        if self.reading.bonus == 0.0:
            self.logits = self.exploit_logits = policy_logits(
                self.network, self.info, self.stat, self.reading)
        else:  # the exploring and the exploiting (no bonus) policy in one forward pass
            self.logits, self.exploit_logits = batched_logits(
                self.network, self.info, self.stat, self.reading, (self.reading.bonus, 0.0))
        self.cdf = _cdf(self.logits, self.temperature)

    def _refresh_mixture(self) -> None:
        """The exploring reading's weights and heads; its marginal (``logits``) and the
        marginal at beta = 0 (``exploit_logits``), the bits ``policy_logits`` would give."""
        bonuses = (self.reading.bonus,) if self.reading.bonus == 0.0 else (
            self.reading.bonus, 0.0)
        readings = batched_heads(self.network, self.info, self.stat, self.reading, bonuses)
        self.log_pi, self.head_logits, self.logits = readings[0]
        self.exploit_logits = readings[-1][2]


def _cdf(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Unnormalised cumulative softmax(logits / temperature) along the last axis."""
    scaled = (logits - logits.max(axis=-1, keepdims=True)) / temperature
    return np.cumsum(np.exp(scaled), axis=-1)


def _draw(cdf: np.ndarray, rng: np.random.Generator) -> int:
    """An index drawn from an unnormalised cumulative distribution (one random number)."""
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))


def _read(info: TaskInfo, stat: ExperienceStatistic, reading: Reading
          ) -> tuple[ExperienceStatistic, float]:
    """The statistic the network reads (with the virtual outcome, if any) and its scale
    floor."""
    floor = info.reward_bound if reading.range_scale else 0.0
    if reading.virtual is not None:
        stat = with_virtual_outcome(stat, reading.virtual, scale_floor=floor)
    return stat, floor


def _forward(network: PolicyNetwork, info: TaskInfo, contexts: list[Context],
             rounds: int | None, heads: bool = False) -> list:
    """The logits of every context (with ``heads``: its ``(log pi, every head's logits,
    the marginal logits)``),
    in passes of at most ``PASS_PAIRS`` pairs, each whole or in slices of states
    (``ATTENTION_NUMBERS``)."""
    S, A = contexts[0].pair_features.shape[:2]
    per_pass = max(1, PASS_PAIRS // (S * A))
    out = []
    for i in range(0, len(contexts), per_pass):
        batch = collate(contexts[i:i + per_pass])
        B, S, A, M = batch.successors.shape
        per_state = B * A * M * network.config.width  # numbers gathered per state
        state_chunk = None
        if S * per_state > ATTENTION_NUMBERS:
            state_chunk = max(1, SLICE_NUMBERS // per_state)
        with pinned_kernels():
            if heads:
                log_pi, per_head = network.heads(batch, num_rounds=rounds,
                                                 state_chunk=state_chunk)
                marginal = marginal_logits(log_pi, per_head)  # as infer computes it
                out.extend((lp.numpy().astype(np.float64),
                            lg[:, :info.num_states].numpy().astype(np.float64),
                            mg[:info.num_states].numpy().astype(np.float64))
                           for lp, lg, mg in zip(log_pi, per_head, marginal, strict=True))
                continue
            logits = network.infer(batch, num_rounds=rounds, state_chunk=state_chunk)
        out.extend(lg[:info.num_states].numpy().astype(np.float64) for lg in logits)
    return out
