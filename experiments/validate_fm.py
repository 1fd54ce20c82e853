"""Validation of a trained foundation model on the synthetic prior (never benchmark tasks).

Validation MDPs and contexts are drawn like the training data, from the stream the trainer
validates on and no training step uses (``train.validation_examples``). Reported: the
cross-entropy, the exact normalised value of the greedy policy of the network, and of the
certainty-equivalence plug-in policy computed from the same context (unvisited pairs as
zero-reward self-loops), on MDPs whose optimal-random gap exceeds 1% of the reward scale, and
their paired difference with a bootstrap CI over MDPs.

Usage: python experiments/validate_fm.py [--mdps N] [--checkpoint DIR]
"""

from __future__ import annotations

# isort: off
import rlbench_icl  # noqa: F401 - before numpy: no AVX-512 kernels (rlbench_icl/cpu.py)
# isort: on
import argparse
from pathlib import Path

import numpy as np
import torch

from rlbench_icl import dynprog
from rlbench_icl.discovery import SUBMISSIONS_DIR
from rlbench_icl.fm.features import Context, collate
from rlbench_icl.fm.model import pinned_kernels
from rlbench_icl.fm.train import load_model, validation_examples
from rlbench_icl.mdp import TabularMDP
from rlbench_icl.tuning import paired_interval, synthetic_task


def plug_in_policy(mdp: TabularMDP, context: Context) -> np.ndarray:
    """Greedy on the empirical model the context describes (rewards back in reward units)."""
    S, A = mdp.num_states, mdp.num_actions
    P = np.zeros((S, A, S))
    # add, not put: padding entries (probability 0) may repeat a real successor's index, and
    # a put would let them overwrite it (an unvisited pair's self-loop became a row of 0s).
    s, a = np.indices(context.successors.shape)[:2]
    np.add.at(P, (s, a, context.successors), np.exp(context.successor_log_probs))
    P /= P.sum(axis=2, keepdims=True)
    R = context.pair_features[..., 1] * context.reward_scale
    if mdp.objective == "discounted":
        return dynprog.greedy_policy(dynprog.discounted_optimal_values(P, R, mdp.discount)[0])
    return dynprog.greedy_policy(dynprog.backward_induction(P, R, mdp.horizon,
                                                           mdp.discount)[0][0])


def summary(values) -> str:
    v = np.sort(np.asarray(values))
    q = len(v) // 4
    return (f"mean {v.mean():.3f}  median {np.median(v):.3f}  IQM {v[q:len(v) - q].mean():.3f}"
            f"  (n={len(v)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mdps", type=int, default=128)
    parser.add_argument("--checkpoint", type=Path, default=SUBMISSIONS_DIR / "gnn_fm_checkpoint")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, config = load_model(args.checkpoint)
    examples = validation_examples(config, 0, args.mdps)  # the trainer's validation stream
    with torch.no_grad(), pinned_kernels():  # as the trainer's validation runs it
        logits, loss = model(collate([e[1] for e in examples], [e[2] for e in examples],
                                     [e[3] for e in examples]))
    network, plug_in = [], []
    for i, ((mdp, context, _, _), lg) in enumerate(zip(examples, logits, strict=True)):
        task = synthetic_task(mdp, i)
        if task.optimal_value - task.random_value <= 0.01 * max(mdp.reward_bound(), 1e-12):
            continue
        S, A = mdp.num_states, mdp.num_actions
        greedy = dynprog.greedy_policy(lg[:S, :A].numpy().astype(np.float64))
        network.append(float(task.normalise(task.policy_value(greedy))))
        with np.errstate(invalid="ignore"):
            plug_in.append(float(task.normalise(task.policy_value(plug_in_policy(mdp,
                                                                                 context)))))
    print(f"validation cross-entropy {loss.item():.4f} on {args.mdps} prior MDPs")
    print(f"network greedy policy, normalised value: {summary(network)}")
    print(f"plug-in from the same contexts:          {summary(plug_in)}")
    print(paired(np.array(network), np.array(plug_in)))


def paired(network: np.ndarray, plug_in: np.ndarray) -> str:
    """Network minus plug-in, MDP by MDP: the mean with its 95% bootstrap CI, and on how
    many MDPs each is ahead (a difference within 1e-9 is a tie)."""
    difference = network - plug_in
    mean, low, high = paired_interval(difference[:, None])
    ahead, behind = int((difference > 1e-9).sum()), int((difference < -1e-9).sum())
    return (f"network - plug-in, per MDP:              mean {mean:+.3f} [{low:+.3f}, "
            f"{high:+.3f}] (95% bootstrap CI); network ahead on {ahead}, behind on {behind}, "
            f"tied on {len(difference) - ahead - behind}")


if __name__ == "__main__":
    main()
