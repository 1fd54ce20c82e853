"""Training the policy network on the synthetic prior: ``train(config, seed, out_dir)``.

Seeded and resumable: the batch of step t is drawn from ``default_rng([seed, t])``, so a run
resumed from its last checkpoint draws exactly the batches it would have drawn, and dropout
masks come from the network's own generator, seeded from (seed, step) too. Parameters are
initialised from a ``torch.Generator``; with one thread every step is deterministic.
Validation uses MDPs from the same prior on a separate stream — never a benchmark task.

Files in ``out_dir``: ``checkpoint.pt`` (model + optimiser + step, written atomically, read
with ``weights_only=True``), ``train_log.jsonl``, and at the end ``model.safetensors`` and
``config.json`` (the resolved config, from which ``load_model`` rebuilds the network).

A training config is a TOML file that lists only what differs from ``TrainConfig``'s defaults
or from the file it names in ``extends`` (a path relative to it; tables merge key by key).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle  # only for its error type: checkpoints load with weights_only
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from .. import dynprog
from ..errors import ConfigError
from ..store import write_atomic
from ..tasks import evaluate_policy
from .context import ContextConfig
from .features import FeatureConfig, collate
from .model import ModelConfig, PolicyNetwork, pinned_kernels
from .prior import PriorConfig, sample_example

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored beside the checkpoint).

    Attributes:
        model: network shape. prior: training data.
        steps: optimiser steps. batch_size: MDPs per step, in micro-batches of
            ``micro_batch`` MDPs of similar size (less padding).
        lr, weight_decay, grad_clip: AdamW and clipping (the paper's 3e-4, 0.01, 0.5).
        warmup_steps: linear warm-up, then cosine decay to ``min_lr_ratio * lr``.
        validation_mdps: size of the fixed validation set. validate_every: steps between
            validations. checkpoint_every: steps between checkpoints.
        threads: torch threads (1 keeps every step bit-for-bit repeatable).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    steps: int = 3000
    batch_size: int = 32
    micro_batch: int = 8
    lr: float = 3e-4
    weight_decay: float = 0.01
    grad_clip: float = 0.5
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    validation_mdps: int = 64
    validate_every: int = 100
    checkpoint_every: int = 25
    threads: int = 1


def load_config(path: str | os.PathLike) -> TrainConfig:
    """A ``TrainConfig`` from a TOML file: top-level fields, ``[model]``,
    ``[model.features]``, ``[prior]``, ``[prior.context]``, and ``extends``."""
    try:
        return config_from_dict(_read_toml(Path(path), ()))
    except (OSError, tomllib.TOMLDecodeError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a valid training config: {exc}") from None


def _read_toml(path: Path, chain: tuple[Path, ...]) -> dict:
    """The file's tables merged over those of the file it ``extends`` (recursively)."""
    path = path.resolve()
    if path in chain:
        raise ValueError(f"extends loops: {' -> '.join(map(str, (*chain, path)))}")
    data = tomllib.loads(path.read_text())
    base = data.pop("extends", None)
    if base is None:
        return data
    return _merged(_read_toml(path.parent / base, (*chain, path)), data)


def _merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(out[key], value) if both else value
    return out


def config_to_dict(config: TrainConfig) -> dict:
    return dataclasses.asdict(config)


def config_from_dict(data: dict) -> TrainConfig:
    """A ``TrainConfig`` from nested dicts (``config_to_dict``'s or a TOML file's); missing
    fields take their defaults."""
    data = dict(data)
    model = dict(data.pop("model", {}))
    features = FeatureConfig(**model.pop("features", {}))
    prior = dict(data.pop("prior", {}))
    context = ContextConfig(**_tuples(prior.pop("context", {})))
    return TrainConfig(model=ModelConfig(**model, features=features),
                       prior=PriorConfig(**_tuples(prior), context=context), **data)


def train(config: TrainConfig, seed: int, out_dir: str | os.PathLike,
          progress: bool = True, stop_after: int | None = None) -> dict:
    """Train (or resume) and export; returns the last validation metrics.

    ``stop_after``: run at most this many steps in this call (checkpointing at the end), so
    a long training can be spread over sessions; the result is the same as one call.
    """
    torch.set_num_threads(config.threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    resuming = (out / "checkpoint.pt").exists() and (out / "config.json").exists()
    if resuming and not _same_run(out / "config.json", config, seed):
        raise ConfigError(f"{out} holds a run with another config or seed; resume it "
                          "with the same ones, or train into a new directory")
    if not resuming:
        _write_json(out / "config.json", {"seed": seed, "train": config_to_dict(config)})
    model = build_model(config.model, seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    start = _resume(out / "checkpoint.pt", model, optimiser)
    validation = validation_examples(config, seed, config.validation_mdps)
    metrics: dict = {}
    end = config.steps if stop_after is None else min(config.steps, start + stop_after)
    bar = tqdm(range(start, end), initial=start, total=config.steps, desc="train-fm",
               disable=not progress)
    for step in bar:
        _set_lr(optimiser, config, step)
        _seed_dropout(model, seed, step)
        with pinned_kernels():
            loss = _train_step(model, optimiser, config, np.random.default_rng([seed, step]))
        bar.set_postfix(loss=f"{loss:.3f}")
        last = step + 1 == config.steps
        if (step + 1) % config.validate_every == 0 or last:
            metrics = {"step": step + 1, "train_loss": loss, **validate(model, validation),
                       "time": time.time()}
            with open(out / "train_log.jsonl", "a") as f:
                f.write(json.dumps(metrics) + "\n")
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == end:
            _save_checkpoint(out / "checkpoint.pt", model, optimiser, step + 1)
    if end == config.steps:
        tmp = out / "model.safetensors.tmp"
        save_file(model.state_dict(), str(tmp))
        os.replace(tmp, out / "model.safetensors")
    return metrics


def _same_run(path: Path, config: TrainConfig, seed: int) -> bool:
    """Whether the run stored at ``path`` (its config.json) has this config and seed. Compared
    as configs, not as files, so that a run stored before a field was added (with its
    default value) still resumes; its config.json is left as it is."""
    try:
        previous = json.loads(path.read_text())
        return previous["seed"] == seed and config_from_dict(previous["train"]) == config
    except (ValueError, KeyError, TypeError):
        return False


def build_model(config: ModelConfig, seed: int) -> PolicyNetwork:
    """A network with weights drawn from ``torch.Generator().manual_seed(seed)``."""
    model = PolicyNetwork(config)
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.02, generator=generator)
            torch.nn.init.zeros_(module.bias)
    return model


def load_model(directory: str | os.PathLike) -> tuple[PolicyNetwork, TrainConfig]:
    """The exported network of a training directory (safetensors: no code is executed)."""
    directory = Path(directory)
    try:
        config = config_from_dict(json.loads((directory / "config.json").read_text())["train"])
        model = PolicyNetwork(config.model)
        model.load_state_dict(load_file(str(directory / "model.safetensors")))
    except (OSError, SafetensorError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ConfigError(f"{directory}: not a model exported by train-fm (model.safetensors "
                          f"and config.json): {_first_line(exc)}") from None
    model.eval()
    return model, config


def validate(model: PolicyNetwork, validation: list) -> dict:
    """Mean loss, and the mean exact normalised value of the greedy policy, on validation."""
    model.eval()
    with torch.no_grad(), pinned_kernels():
        batch = collate([v[1] for v in validation], [v[2] for v in validation],
                        [v[3] for v in validation])
        logits, loss = model(batch)
        mixture = _mixture_metrics(model, batch)
    model.train()
    scores = []
    for (mdp, context, _, _), lg in zip(validation, logits, strict=True):
        S, A = context.pair_features.shape[:2]
        policy = dynprog.greedy_policy(lg[:S, :A].numpy().astype(np.float64))
        optimal, rand = _reference_values(mdp)
        # MDPs where no policy does much better than random make the ratio explode: skip
        # those whose optimal-random gap is under 1% of the reward scale.
        if optimal - rand > 0.01 * max(mdp.reward_bound(), 1e-12):
            scores.append((evaluate_policy(mdp, policy) - rand) / (optimal - rand))
    return {"val_loss": float(loss), "val_normalised_value": float(np.mean(scores)),
            "val_median_normalised_value": float(np.median(scores)), **mixture}


def _mixture_metrics(model: PolicyNetwork, batch) -> dict:
    """For a mixture network, over the validation MDPs (entropies in nats):
    ``val_mixture_entropy``, the mean entropy of an MDP's weights pi (0 when every MDP is
    sure which head is its own, log K when pi is uniform); ``val_head_usage_entropy``, the
    entropy of pi averaged over MDPs (0 when one head takes every MDP); and
    ``val_head_distance``, the mean total-variation distance between two heads' policies,
    over pairs of heads and the MDPs' states (0 when the heads are one policy)."""
    if model.config.policy_heads == 1:
        return {}
    log_pi, logits = model.heads(batch)
    pi = log_pi.exp()
    usage = pi.mean(dim=0)
    probs = torch.softmax(logits, dim=-1)  # (B, K, S, A); invalid actions 0
    K = probs.shape[1]
    distance = torch.stack([(probs[:, i] - probs[:, j]).abs().sum(-1) / 2
                            for i in range(K) for j in range(i + 1, K)])  # (pairs, B, S)
    states = batch.state_mask.float()
    return {"val_mixture_entropy": float(-(pi * log_pi).sum(dim=1).mean()),
            "val_head_usage_entropy": float(-(usage * usage.log()).sum()),
            "val_head_distance": float((distance * states).sum() / (len(distance)
                                                                    * states.sum()))}


def _train_step(model, optimiser, config: TrainConfig, rng) -> float:
    examples = [sample_example(rng, config.prior, config.model.features)
                for _ in range(config.batch_size)]
    examples.sort(key=lambda e: e[1].pair_features.shape[0])
    optimiser.zero_grad(set_to_none=True)
    total, chunks = 0.0, math.ceil(config.batch_size / config.micro_batch)
    for i in range(0, config.batch_size, config.micro_batch):
        part = examples[i:i + config.micro_batch]
        batch = collate([e[1] for e in part], [e[2] for e in part], [e[3] for e in part])
        _, loss = model(batch)
        (loss / chunks).backward()
        total += loss.item() / chunks
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimiser.step()
    return total


def _seed_dropout(model: PolicyNetwork, seed: int, step: int) -> None:
    """Seed the network's dropout generator from (seed, step), so that a resumed run draws
    the same dropout masks as an uninterrupted one."""
    model.dropout_generator.manual_seed(
        int(np.random.SeedSequence([seed, step, 1]).generate_state(1)[0]))


def _set_lr(optimiser, config: TrainConfig, step: int) -> None:
    if step < config.warmup_steps:
        factor = (step + 1) / config.warmup_steps
    else:
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        factor = config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine
    for group in optimiser.param_groups:
        group["lr"] = config.lr * factor


def validation_examples(config: TrainConfig, seed: int, count: int) -> list:
    """Validation MDPs from the training prior on a stream no training step uses, without a
    bonus and for the first step: their targets are the true optimal policies (stationary
    where the prior's are), scored as one policy for every step."""
    rng = np.random.default_rng([seed, 2**31 - 1])
    prior = dataclasses.replace(config.prior, bonus_weights=(1.0, 0.0, 0.0), steps_left=0.0)
    return [sample_example(rng, prior, config.model.features) for _ in range(count)]


def _reference_values(mdp) -> tuple[float, float]:
    """Exact V*(mu0) (non-stationary for finite horizons) and V_rand(mu0)."""
    if mdp.objective == "discounted":
        V = dynprog.discounted_optimal_values(mdp.P, mdp.R, mdp.discount)[1]
    else:
        V = dynprog.backward_induction(mdp.P, mdp.R, mdp.horizon, mdp.discount)[1][0]
    rand = evaluate_policy(mdp, dynprog.uniform_policy(mdp.num_states, mdp.num_actions))
    return float(mdp.mu0 @ V), rand


def _resume(path: Path, model, optimiser) -> int:
    if not path.exists():
        return 0
    try:  # weights_only: tensors and plain containers only; no code is executed
        state = torch.load(path, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimizer"])
        return int(state["step"])
    except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, TypeError,
            ValueError) as exc:
        raise ConfigError(f"{path}: not a checkpoint written by train-fm (refused, nothing "
                          f"executed): {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _save_checkpoint(path: Path, model, optimiser, step: int) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimiser.state_dict(),
                "step": step}, tmp)
    os.replace(tmp, path)


def _write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True))


def _tuples(data: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
