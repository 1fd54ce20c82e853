"""A registered task: its declaration (``TaskSpec``), its MDP, and exact reference values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from . import dynprog
from .mdp import TabularMDP

# \Z, not $: "Maze-v0\n" is not an id. Bounded lengths: an id names result directories.
TASK_ID = re.compile(r"^(?P<family>[A-Za-z][A-Za-z0-9_.]{0,63})-v(?P<version>[0-9]{1,6})\Z")
# A family instance's id adds its instance seed and index: ``Maze-v0-s7-i2`` (version 0).
VERSION = re.compile(r"-v(?P<version>[0-9]+)(-s[0-9]+-i[0-9]+)?\Z")


@dataclass(frozen=True)
class TaskSpec:
    """A task as declared in a task file under ``tasks/`` (see README, "Adding a task").

    Attributes:
        id: ``Name-vN``; N is the version, bumped by any change that can move a score (an
            instance of a family: ``Family-vN-s<seed>-i<index>``).
        description: one line. reference: where the task comes from.
        tags: e.g. ``quick``, ``full``, ``paper``, descriptive tags such as ``exploration``.
        builder: a name in ``rlbench_icl.builders.BUILDERS``. params: its keyword arguments.
        horizon: H, steps per episode. discount: gamma. objective: ``finite``/``discounted``.
        online_episodes: K, the online protocol's episode budget.
        offline_dataset_episodes: dataset sizes (episodes) of the offline protocol.
        offline_epsilons: behaviour policies ``eps * uniform + (1 - eps) * optimal``.
        source: the file that declared the task.
    """

    id: str
    description: str
    reference: str
    tags: tuple[str, ...]
    builder: str
    params: dict = field(hash=False)
    horizon: int
    discount: float
    objective: str
    online_episodes: int
    offline_dataset_episodes: tuple[int, ...]
    offline_epsilons: tuple[float, ...]
    source: Path = field(compare=False)

    @property
    def version(self) -> int:
        return int(VERSION.search(self.id)["version"])


@dataclass(frozen=True, eq=False)
class Task:
    """A built task: a ``TaskSpec`` and its ``TabularMDP``, with exact values computed once."""

    spec: TaskSpec
    mdp: TabularMDP

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def digest(self) -> str:
        return self.mdp.digest

    @cached_property
    def transitions(self):
        """P in the flat (S*A, S) form the exact evaluations use: a CSR matrix for the
        finite objective (``dynprog.exact_transitions``: the same bits on every CPU), the
        dense form for the discounted one, whose linear solve is made reproducible by
        ``dynprog.solve_reproducibly``."""
        if self.mdp.objective == "discounted":
            return dynprog.flat_transitions(self.mdp.P)
        return dynprog.exact_transitions(self.mdp.P)

    @cached_property
    def optimal_q(self) -> np.ndarray:
        """Q* under the task's objective: (H, S, A) for ``finite``, (S, A) for ``discounted``."""
        m = self.mdp
        if m.objective == "discounted":
            return dynprog.discounted_optimal_values(self.transitions, m.R, m.discount)[0]
        return dynprog.backward_induction(self.transitions, m.R, m.horizon, m.discount)[0]

    @cached_property
    def optimal_actions(self) -> np.ndarray:
        """The optimal policy's actions, (H, S) or (S,); for ``finite`` tasks computed
        without keeping ``optimal_q`` (S * A * H floats)."""
        m = self.mdp
        if m.objective == "discounted":
            return dynprog.greedy_actions(self.optimal_q)
        return dynprog.optimal_actions(self.transitions, m.R, m.horizon, m.discount)

    @cached_property
    def optimal_policy(self) -> np.ndarray:
        """A deterministic optimal policy, (H, S, A) or (S, A) like ``optimal_q``:
        ``greedy_policy(optimal_q)``, ties to the lowest action."""
        return np.eye(self.mdp.num_actions)[self.optimal_actions]

    @cached_property
    def optimal_value(self) -> float:
        """V*(mu0), exact: the value of ``optimal_policy``."""
        m = self.mdp
        if m.objective == "discounted":
            return self.policy_value(self.optimal_policy)
        values = dynprog.actions_value(self.transitions, m.R, self.optimal_actions,
                                       m.discount)
        return dynprog.start_value(m.mu0, values)

    @cached_property
    def random_value(self) -> float:
        """Value of the uniform-random policy from mu0, exact."""
        m = self.mdp
        return self.policy_value(dynprog.uniform_policy(m.num_states, m.num_actions))

    def policy_value(self, policy: np.ndarray) -> float:
        """Exact value from mu0 of a (S, A) or (H, S, A) policy under the task's objective."""
        try:
            return evaluate_policy(self.mdp, policy, self.transitions)
        except ValueError as exc:
            raise ValueError(f"task {self.id}: {exc}") from None

    def normalise(self, value):
        """``(value - V_rand) / (V* - V_rand)``: 1 is optimal, 0 is uniform random."""
        return (np.asarray(value) - self.random_value) / (self.optimal_value - self.random_value)

    @cached_property
    def return_bounds(self) -> tuple[float, float]:
        """``(optimal, uniform-random)`` expected *realised* return of an episode: the H-step
        values. For ``finite`` tasks they are V* and V_rand; for ``discounted`` tasks an
        episode stops after H steps, so its return is scaled by H-step values instead of the
        infinite-horizon ones (else a random agent would not score 0)."""
        if self.mdp.objective == "finite":
            return self.optimal_value, self.random_value
        m = self.mdp
        exact = dynprog.exact_transitions(m.P)
        best = dynprog.backward_induction(exact, m.R, m.horizon, m.discount)[1][0]
        uniform = dynprog.uniform_policy(m.num_states, m.num_actions)
        rand = dynprog.start_policy_value(exact, m.R, uniform, m.horizon, m.discount)
        return dynprog.start_value(m.mu0, best), dynprog.start_value(m.mu0, rand)

    def normalise_return(self, value):
        """A realised return normalised by ``return_bounds``: 1 = optimal, 0 = random."""
        best, rand = self.return_bounds
        return (np.asarray(value) - rand) / (best - rand)


def evaluate_policy(mdp: TabularMDP, policy: np.ndarray, transitions=None) -> float:
    """Exact value from mu0 of a (S, A) or (H, S, A) policy under the MDP's objective.

    ``transitions``: the MDP's ``P`` in the form ``Task.transitions`` gives, if cached
    (a task's scores use it; without it a dense ``P`` is used as it is).
    """
    if transitions is None:
        transitions = (dynprog.exact_transitions(mdp.P) if mdp.objective == "finite"
                       else dynprog.flat_transitions(mdp.P) if mdp.is_sparse else mdp.P)
    P = transitions
    if mdp.objective == "discounted":
        if np.ndim(policy) != 2:
            raise ValueError("the discounted objective scores stationary (S, A) policies; "
                             f"got shape {np.shape(policy)}")
        V = dynprog.discounted_policy_value(P, mdp.R, policy, mdp.discount, reproducible=True)
    else:
        V = dynprog.start_policy_value(P, mdp.R, policy, mdp.horizon, mdp.discount)
    return dynprog.start_value(mdp.mu0, V)
