"""The in-context policy network: a graph attention network over the experience statistic.

Every (s, a) pair is a node that attends over its observed successor states s', with the
empirical transition probability as an additive attention bias (Zighem & Vie 2026): with
q.k = 0 the attention is exactly the Bellman expectation under P_hat. One propagation round,
weight-tied and applied ``num_rounds`` times (a learned value iteration; more rounds can be run
at inference), with the pair's input embedding re-injected every round. A policy head reads
[h_s, h_sa, e_sa] into one logit per action.

With ``policy_heads`` K > 1 the network is a mixture of K policies: K logits per action, and a
mixture head that reads the mean of the states' embeddings into weights pi_k. It is trained
on the likelihood of the whole target policy under the mixture (``mixture_loss``), so that a
head stands for one kind of MDP the context allows, and pi for their posterior masses; its
``forward`` logits are the marginal log sum_k pi_k p_k(a | s), what a one-head network
learns, and ``heads`` gives pi and every head's logits, for an agent that follows one head
per episode.

Permutation-equivariant in states and in actions; no positional features; any S and A (padding
and masking exist only inside a batch). Attention is sparse: a pair attends over the M
successors it has actually observed, not over all S states, so S = 500 is affordable.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from ..cpu import has_avx2, wants_torch_pinned
from .features import NUM_STATE_FEATURES, Batch, FeatureConfig


@dataclass(frozen=True)
class ModelConfig:
    """Network shape and inputs.

    Attributes:
        width: embedding size d.
        num_heads: attention heads (d must be divisible by it).
        num_rounds: propagation rounds in training (inference may use more).
        mlp_ratio: hidden size of the round's MLPs, in multiples of d.
        dropout: dropout inside the MLPs.
        features: what the network reads beside the statistic; contexts must be featurized
            with the same value.
        policy_heads: K, the number of policies in the mixture (1: one policy, no mixture).
        head_floor: lambda, with K > 1: the training loss adds lambda times the mean over
            heads of each head's own cross-entropy to the target, so that every head is
            taught every context (0: the mixture likelihood alone, which teaches each
            context mostly to the head that fits it best).
    """

    width: int = 64
    num_heads: int = 4
    num_rounds: int = 10
    mlp_ratio: int = 1
    dropout: float = 0.0
    features: FeatureConfig = field(default_factory=FeatureConfig)
    policy_heads: int = 1
    head_floor: float = 0.0

    def __post_init__(self) -> None:
        if self.policy_heads < 1:
            raise ValueError(f"policy_heads must be at least 1, got {self.policy_heads}")
        if not self.head_floor >= 0.0:
            raise ValueError(f"head_floor must be at least 0, got {self.head_floor}")


class SeededDropout(nn.Module):
    """Dropout that draws its masks from ``generator`` (a ``torch.Generator`` the trainer
    seeds per step), never from torch's global one; the same arithmetic as ``F.dropout``
    (Bernoulli(1 - p) mask divided by 1 - p). Identity in eval mode or with p = 0."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        noise = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=self.generator)
        return x * noise.div_(1.0 - self.p)


class MLP(nn.Sequential):
    def __init__(self, d_in: int, d_hidden: int, d_out: int, dropout: float = 0.0):
        super().__init__(nn.Linear(d_in, d_hidden), nn.GELU(), SeededDropout(dropout),
                         nn.Linear(d_hidden, d_out))


class PropagationRound(nn.Module):
    """Pairs attend over successor states; states pool their pairs."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        d = config.width
        self.num_heads = config.num_heads
        self.query = nn.Linear(d, d)
        self.key_value = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, d)
        hidden = config.mlp_ratio * d
        self.pair_mlp = MLP(3 * d, hidden, d, config.dropout)
        self.pair_norm = nn.LayerNorm(d)
        self.state_mlp = MLP(2 * d, hidden, d, config.dropout)
        self.state_norm = nn.LayerNorm(d)

    def forward(self, h_s, h_sa, e_sa, batch: Batch, state_chunk: int | None = None):
        """One round; with ``state_chunk``, slice by slice of that many states (every
        slice reads the keys and values of all states from before the round)."""
        k, v = self.key_value(h_s).chunk(2, dim=-1)  # (B, S, d) each
        S = h_s.shape[1]
        if state_chunk is None or state_chunk >= S:
            return self._update(k, v, h_s, h_sa, e_sa, batch.successors,
                                batch.successor_log_probs, batch.action_mask)
        new_s, new_sa = torch.empty_like(h_s), torch.empty_like(h_sa)
        for lo in range(0, S, state_chunk):
            part = slice(lo, lo + state_chunk)
            new_s[:, part], new_sa[:, part] = self._update(
                k, v, h_s[:, part], h_sa[:, part], e_sa[:, part], batch.successors[:, part],
                batch.successor_log_probs[:, part], batch.action_mask)
        return new_s, new_sa

    def _update(self, k, v, h_s, h_sa, e_sa, successors, successor_log_probs, action_mask):
        """The new ``(h_s, h_sa)`` of a slice of states, reading ``k, v`` (B, S, d) of all."""
        B, S, A, M = successors.shape
        d, nh = h_s.shape[-1], self.num_heads
        index = successors.reshape(B, S * A * M, 1).expand(-1, -1, d)
        k_m = torch.gather(k, 1, index).view(B, S, A, M, nh, d // nh)
        v_m = torch.gather(v, 1, index).view(B, S, A, M, nh, d // nh)
        q = self.query(h_sa).view(B, S, A, nh, d // nh)
        logits = torch.einsum("bsahd,bsamhd->bsamh", q, k_m) / math.sqrt(d // nh)
        logits = logits + successor_log_probs.unsqueeze(-1)  # (B, S, A, M, nh)
        weights = torch.softmax(logits, dim=3)
        message = torch.einsum("bsamh,bsamhd->bsahd", weights, v_m).reshape(B, S, A, d)
        h_sa = self.pair_norm(h_sa + self.pair_mlp(torch.cat([h_sa, self.out(message), e_sa],
                                                             dim=-1)))
        pooled = _mean_over_actions(h_sa, action_mask)  # (B, S, d)
        h_s = self.state_norm(h_s + self.state_mlp(torch.cat([h_s, pooled], dim=-1)))
        return h_s, h_sa


class PolicyNetwork(nn.Module):
    """Statistic in, one logit per (s, a) out."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        d = config.width
        if d % config.num_heads:
            raise ValueError(f"width {d} is not divisible by num_heads {config.num_heads}")
        self.config = config
        self.global_columns = config.features.global_columns()
        self.num_global = len(self.global_columns)
        self.num_pair = config.features.num_pair_features
        self.pair_encoder = MLP(self.num_pair + self.num_global, d, d)
        self.state_encoder = nn.Linear(NUM_STATE_FEATURES, d)
        self.round = PropagationRound(config)
        self.head = MLP(3 * d, d, config.policy_heads, config.dropout)
        if config.policy_heads > 1:  # no dropout: pi is read whole at inference
            self.mixture = MLP(d, d, config.policy_heads)
        self.dropout_generator = torch.Generator()
        for module in self.modules():
            if isinstance(module, SeededDropout):
                module.generator = self.dropout_generator

    def forward(self, batch: Batch, num_rounds: int | None = None,
                state_chunk: int | None = None):
        """Returns ``(logits (B, S, A), loss or None)``; invalid actions get -inf logits.

        The loss (with ``batch.targets``) is the cross-entropy to the target policy over
        valid actions, averaged over the states ``batch.loss_mask`` selects; with several
        policy heads, the logits are the mixture's marginal log-probabilities and the loss is
        ``mixture_loss``.

        ``state_chunk``: run each round and the head on slices of that many states, so that
        the successors' keys and values gathered for attention, (B, S, A, M, d) each, take
        memory per slice (inference on large tasks, under ``torch.no_grad``); the default,
        None, is one slice.
        """
        log_pi, per_head = self._heads(batch, num_rounds, state_chunk)
        if log_pi is None:
            logits = per_head.squeeze(1)
            loss = None if batch.targets is None else policy_loss(logits, batch)
            return logits, loss
        loss = None if batch.targets is None else mixture_loss(
            log_pi, per_head, batch, self.config.head_floor)
        return marginal_logits(log_pi, per_head), loss

    def _heads(self, batch: Batch, num_rounds: int | None, state_chunk: int | None
               ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``(log pi (B, K) or None for one head, logits (B, K, S, A))``."""
        B, S, A, width = batch.pair_features.shape
        if width != self.num_pair:
            raise ValueError(f"pair features of width {width}, but this network reads "
                             f"{self.num_pair} (featurize with plans={self.config.features.plans})")
        glob = batch.global_features[:, None, None, self.global_columns].expand(B, S, A, -1)
        e_sa = self.pair_encoder(torch.cat([batch.pair_features, glob], dim=-1))  # (B,S,A,d)
        h_s = _mean_over_actions(e_sa, batch.action_mask) + self.state_encoder(
            batch.state_features)  # (B, S, d)
        h_sa = e_sa
        for _ in range(num_rounds or self.config.num_rounds):
            h_s, h_sa = self.round(h_s, h_sa, e_sa, batch, state_chunk)
        step = S if state_chunk is None else state_chunk
        logits = torch.cat([self._readout(h_s[:, lo:lo + step], h_sa[:, lo:lo + step],
                                          e_sa[:, lo:lo + step])
                            for lo in range(0, S, step)], dim=1)  # (B, S, A, K)
        return _mixed(self, logits, h_s, batch)

    def infer(self, batch: Batch, num_rounds: int | None = None,
              state_chunk: int | None = None) -> torch.Tensor:
        """``forward(batch, num_rounds, state_chunk)[0]`` without autograd, bit for bit, in
        fewer and cheaper operations where that is exact (``_fast_logits``); else ``forward``.
        """
        log_pi, per_head = self._inferred_heads(batch, num_rounds, state_chunk)
        return per_head.squeeze(1) if log_pi is None else marginal_logits(log_pi, per_head)

    def heads(self, batch: Batch, num_rounds: int | None = None,
              state_chunk: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log pi (B, K), logits (B, K, S, A))`` as ``infer`` computes them: the
        mixture's log weights and every head's logits (invalid actions -inf); for one head,
        log pi = 0 and its logits are ``infer``'s."""
        log_pi, per_head = self._inferred_heads(batch, num_rounds, state_chunk)
        return (per_head.new_zeros(per_head.shape[:2]) if log_pi is None else log_pi), per_head

    def _inferred_heads(self, batch: Batch, num_rounds: int | None,
                        state_chunk: int | None) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``_heads`` without autograd, by ``_fast_logits`` where that is exact."""
        B, S, A, M = batch.successors.shape
        dh = self.config.width // self.config.num_heads
        params = list(self.parameters())
        fast = (not any(module.training for module in self.modules())  # no dropout anywhere
                and all(p.dtype == torch.float32 and p.device.type == "cpu" for p in params)
                and (state_chunk is None or state_chunk >= S)
                and dh * M < NAIVE_BMM and batch.pair_features.shape[-1] == self.num_pair)
        with torch.inference_mode():
            if fast:
                return _fast_logits(self, batch, num_rounds or self.config.num_rounds)
            return self._heads(batch, num_rounds, state_chunk)

    def _readout(self, h_s, h_sa, e_sa) -> torch.Tensor:
        A = h_sa.shape[2]
        readout = torch.cat([h_s.unsqueeze(2).expand(-1, -1, A, -1), h_sa, e_sa], dim=-1)
        return self.head(readout)  # (B, S, A, K)


def policy_loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """Cross-entropy to ``batch.targets`` over valid actions, mean over ``batch.loss_mask``."""
    log_probs = F.log_softmax(logits, dim=-1).masked_fill(~batch.action_mask[:, None, :], 0.0)
    per_state = -(batch.targets * log_probs).sum(dim=-1)  # (B, S)
    mask = batch.loss_mask.float()
    return (per_state * mask).sum() / mask.sum().clamp(min=1.0)


def mixture_loss(log_pi: torch.Tensor, logits: torch.Tensor, batch: Batch,
                 head_floor: float = 0.0) -> torch.Tensor:
    """Negative log-likelihood of each MDP's whole target policy under the mixture: per MDP
    -log sum_k pi_k exp(sum_s sum_a target(s, a) log p_k(a | s)) over the states
    ``batch.loss_mask`` selects, summed over MDPs and divided by the number of such states
    (for one head, ``policy_loss``); plus ``head_floor`` times the mean over heads of each
    head's ``policy_loss``."""
    log_probs = F.log_softmax(logits, dim=-1).masked_fill(
        ~batch.action_mask[:, None, None, :], 0.0)  # (B, K, S, A)
    per_state = (batch.targets[:, None] * log_probs).sum(dim=-1)  # (B, K, S)
    mask = batch.loss_mask.float()
    per_mdp = (per_state * mask[:, None]).sum(dim=-1)  # (B, K)
    states = mask.sum().clamp(min=1.0)
    loss = -torch.logsumexp(log_pi + per_mdp, dim=1).sum() / states
    if head_floor:  # every head taught every context
        loss = loss - head_floor * per_mdp.sum() / (per_mdp.shape[1] * states)
    return loss


def marginal_logits(log_pi: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log sum_k pi_k p_k(a | s), (B, S, A), from ``log_pi`` (B, K) and ``logits``
    (B, K, S, A); invalid actions (-inf) stay -inf. The sum runs on finite numbers (an
    invalid action's -1e4 weighs exactly 0 in float32), so its gradient has no NaN."""
    invalid = torch.isneginf(logits)
    log_probs = F.log_softmax(logits.masked_fill(invalid, -1e4), dim=-1)
    marginal = torch.logsumexp(log_pi[:, :, None, None] + log_probs, dim=1)
    return marginal.masked_fill(invalid.all(dim=1), float("-inf"))


def _mixed(net: PolicyNetwork, logits: torch.Tensor, h_s: torch.Tensor, batch: Batch
           ) -> tuple[torch.Tensor | None, torch.Tensor]:
    """``(log pi or None, logits (B, K, S, A))`` from the head's (B, S, A, K) output and the
    states' embeddings after the last round; invalid actions get -inf."""
    invalid = ~batch.action_mask[:, None, :]
    if net.config.policy_heads == 1:  # as before mixtures existed, to the bit
        return None, logits.squeeze(-1).masked_fill(invalid, float("-inf")).unsqueeze(1)
    states = batch.state_mask[:, :, None].float()
    pooled = (h_s * states).sum(dim=1) / states.sum(dim=1).clamp(min=1.0)  # (B, d)
    log_pi = F.log_softmax(net.mixture(pooled), dim=-1)
    return log_pi, logits.permute(0, 3, 1, 2).masked_fill(invalid[:, None], float("-inf"))


def _mean_over_actions(h_sa: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    mask = action_mask[:, None, :, None].float()  # (B, 1, A, 1)
    return (h_sa * mask).sum(dim=2) / mask.sum(dim=2).clamp(min=1.0)


# torch.bmm multiplies batches whose contraction x rows x columns product is below this with
# a plain loop: every entry is the sum of its products in order, one rounding after each
# multiplication and addition, whatever the operands' strides (MKL, above it, may give other
# bits for other strides). Attention's two products have dh * M (x 1 row) such terms.
NAIVE_BMM = 400


def _fast_logits(net: PolicyNetwork, batch: Batch, num_rounds: int
                 ) -> tuple[torch.Tensor | None, torch.Tensor]:
    """``net._heads``'s output, the same bits, for dh * M < ``NAIVE_BMM`` and one slice, in
    eval mode without autograd. What differs is how numbers are moved, not how they are
    computed: every linear layer, GELU, layer norm, softmax and reduction is the same call on
    operands of the same values and shapes (the linear layers' contiguous, as there; MKL in
    its reproducible mode is most of a pass's time on small tasks). The attention products,
    which ``forward``'s einsum hands to bmm's plain loop (``NAIVE_BMM``) after copying its
    operands into bmm's layout, are: for the logits, bmm on a strided view of the keys; for
    the messages, the same loop written out, one product and one sum per successor in order,
    on all rows at once (3x faster than bmm's scalar loop). The successors' keys and values
    are gathered with ``index_select`` of rows (not ``gather`` of single numbers, twice) into
    the layout each product reads; the index, the mask and the log probabilities are prepared
    once per pass, not once per round; modules are called through their functional form.
    ``benchmarks/fm_inference_speed.py`` times both and asserts the same bits."""
    rnd = net.round
    B, S, A, M = batch.successors.shape
    d, nh = net.config.width, net.config.num_heads
    dh = d // nh
    N = B * S * A * nh  # attention rows: (b, s, a, head)
    # row (b * nh + h) * S + s' of the (B * nh * S, dh) keys of the heads, per (b, s, a, h, m)
    base = (torch.arange(B)[:, None] * nh + torch.arange(nh)[None, :]) * S  # (B, nh)
    key_index = (batch.successors.unsqueeze(3) + base[:, None, None, :, None]).reshape(-1)
    # row b * S + s' of the (B * S, d) values, per (m, b, s, a)
    value_index = (batch.successors + S * torch.arange(B)[:, None, None, None]).permute(
        3, 0, 1, 2).reshape(-1)
    log_probs = batch.successor_log_probs.unsqueeze(-1)  # (B, S, A, M, 1)
    scale = math.sqrt(dh)
    mask = batch.action_mask[:, None, :, None].float()  # (B, 1, A, 1), as _mean_over_actions
    count = mask.sum(dim=2).clamp(min=1.0)

    def mean_over_actions(h_sa):
        return (h_sa * mask).sum(dim=2) / count

    def mlp(module: MLP, x):
        first, gelu, _, second = module  # the dropout is the identity in eval mode
        hidden = F.gelu(F.linear(x, first.weight, first.bias), approximate=gelu.approximate)
        return F.linear(hidden, second.weight, second.bias)

    def norm(module: nn.LayerNorm, x):
        return F.layer_norm(x, module.normalized_shape, module.weight, module.bias, module.eps)

    glob = batch.global_features[:, None, None, net.global_columns].expand(B, S, A, -1)
    e_sa = mlp(net.pair_encoder, torch.cat([batch.pair_features, glob], dim=-1))
    h_s = mean_over_actions(e_sa) + F.linear(batch.state_features, net.state_encoder.weight,
                                             net.state_encoder.bias)
    h_sa = e_sa
    for _ in range(num_rounds):
        kv = F.linear(h_s, rnd.key_value.weight, rnd.key_value.bias)  # (B, S, [k | v])
        # the successors' keys, (N, M, dh), from a (B * nh * S, dh) table of the heads' keys
        keys = kv[..., :d].reshape(B, S, nh, dh).transpose(1, 2).reshape(B * nh * S, dh)
        k_m = keys.index_select(0, key_index).view(N, M, dh)
        # and their values, (M, B, S, A, nh, dh), from the (B * S, d) values
        v_m = kv[..., d:].reshape(B * S, d).index_select(0, value_index).view(M, B, S, A, nh, dh)
        q = F.linear(h_sa, rnd.query.weight, rnd.query.bias).view(N, 1, dh)
        logits = torch.bmm(q, k_m.transpose(1, 2))  # (N, 1, M)
        logits = logits.view(B, S, A, nh, M).permute(0, 1, 2, 4, 3) / scale
        weights = torch.softmax(logits + log_probs, dim=3)  # (B, S, A, M, nh)
        if M == 1:  # einsum multiplies, without a sum (a -0.0 stays -0.0)
            message = weights[:, :, :, 0, :, None] * v_m[0]
        else:  # bmm's loop (from 0, so -0.0 sums to 0.0 as there), a successor at a time
            message = torch.zeros(B, S, A, nh, dh)
            for m in range(M):
                message += weights[:, :, :, m, :, None] * v_m[m]
        message = message.view(B, S, A, d)
        out = F.linear(message, rnd.out.weight, rnd.out.bias)
        h_sa = norm(rnd.pair_norm,
                    h_sa + mlp(rnd.pair_mlp, torch.cat([h_sa, out, e_sa], dim=-1)))
        pooled = mean_over_actions(h_sa)
        h_s = norm(rnd.state_norm, h_s + mlp(rnd.state_mlp, torch.cat([h_s, pooled], dim=-1)))
    readout = torch.cat([h_s.unsqueeze(2).expand(-1, -1, A, -1), h_sa, e_sa], dim=-1)
    return _mixed(net, mlp(net.head, readout), h_s, batch)


PINNED = wants_torch_pinned()  # read once: torch fixes its kernels at its first operations


@contextmanager
def pinned_kernels() -> Iterator[None]:
    """Run the network with oneDNN off (unless ``RLBENCH_ICL_TORCH_KERNELS=native``), and
    restore torch's setting after. oneDNN computes the models' GELU with code generated for
    the CPU's instruction set (capped at AVX2, it changed every logit of 12 tested on an AMD
    EPYC); with it off, ATen's pinned AVX2 kernel computes it, as fast there
    (rlbench_icl/cpu.py). The switch is process-wide: nothing runs a model in threads."""
    _warn_if_torch_unpinned()
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = before and not PINNED
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


@lru_cache(maxsize=1)
def _warn_if_torch_unpinned() -> None:
    """Once per process: torch fixed its ATen kernels at its first operation, and if that
    came before ``rlbench_icl.fm`` set the pin, the models compute unpinned."""
    capability = torch.backends.cpu.get_cpu_capability()
    if PINNED and has_avx2() and capability != "AVX2":
        warnings.warn(f"torch runs its {capability} kernels here (it ran an operation before "
                      "rlbench_icl.fm was imported, or ATEN_CPU_CAPABILITY says so): the "
                      "foundation models may differ in their last bits from sealed runs and "
                      "other CPUs. Import rlbench_icl.fm before using torch.",
                      RuntimeWarning, stacklevel=2)
