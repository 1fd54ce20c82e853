"""Mixture networks (ModelConfig.policy_heads > 1): loss, marginal, fast path, training and
the online agent's one head per episode."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from rlbench_icl import ExperienceStatistic, TaskInfo, default_registry
from rlbench_icl.fm import policy as fmp
from rlbench_icl.fm.features import FeatureConfig, collate, featurize, with_bonus
from rlbench_icl.fm.model import ModelConfig, marginal_logits, mixture_loss, policy_loss
from rlbench_icl.fm.prior import PriorConfig, sample_example
from rlbench_icl.fm.train import TrainConfig, build_model, load_model, train

torch.set_num_threads(1)
FEATURES = FeatureConfig(plans=True, bonus=True, steps_left=True, tie_break=0.3)
MIXTURE = ModelConfig(width=16, num_heads=2, num_rounds=2, features=FEATURES, policy_heads=3)


def training_batch(seed=0, count=3):
    rng = np.random.default_rng(seed)
    examples = [sample_example(rng, PriorConfig(), FEATURES) for _ in range(count)]
    return collate([e[1] for e in examples], [e[2] for e in examples],
                   [e[3] for e in examples])


def test_the_mixture_loss_of_identical_heads_is_the_one_head_loss_whatever_the_weights():
    batch = training_batch()
    B, S, A = batch.targets.shape
    logits = torch.randn(B, 1, S, A).masked_fill(~batch.action_mask[:, None, None, :],
                                                 float("-inf"))
    log_pi = torch.log_softmax(torch.randn(B, 4), dim=1)
    mixed = mixture_loss(log_pi, logits.expand(-1, 4, -1, -1), batch)
    torch.testing.assert_close(mixed, policy_loss(logits[:, 0], batch))
    # distinct heads: between the best head's loss and the pi-weighted mean loss (Jensen),
    # MDP by MDP
    heads = torch.randn(B, 4, S, A).masked_fill(~batch.action_mask[:, None, None, :],
                                                float("-inf"))
    log_probs = torch.log_softmax(heads, -1).masked_fill(~batch.action_mask[:, None, None, :],
                                                         0.0)
    nll = -((batch.targets[:, None] * log_probs).sum(-1) * batch.loss_mask[:, None]).sum(-1)
    states = batch.loss_mask.sum()
    mixed = mixture_loss(log_pi, heads, batch)
    assert nll.min(dim=1).values.sum() / states <= mixed + 1e-5
    assert mixed <= (log_pi.exp() * nll).sum() / states + 1e-5
    assert mixed <= (nll - log_pi).min(dim=1).values.sum() / states + 1e-5


def test_the_marginal_is_a_distribution_over_valid_actions():
    log_pi = torch.log_softmax(torch.randn(2, 3), dim=1)
    logits = torch.randn(2, 3, 5, 4)
    logits[:, :, :, 3] = float("-inf")  # an invalid action
    marginal = marginal_logits(log_pi, logits)
    assert marginal.shape == (2, 5, 4) and torch.isinf(marginal[..., 3]).all()
    torch.testing.assert_close(marginal[..., :3].exp().sum(-1), torch.ones(2, 5))
    probs = torch.softmax(logits, dim=-1)  # by hand: sum_k pi_k p_k
    by_hand = (log_pi.exp()[:, :, None, None] * probs).sum(1)
    torch.testing.assert_close(marginal.exp(), by_hand)


def test_the_marginal_has_finite_gradients_where_actions_are_invalid():
    logits = torch.randn(1, 2, 3, 4)
    logits[..., 3] = float("-inf")
    logits.requires_grad_(True)
    log_pi = torch.log_softmax(torch.randn(1, 2), 1).requires_grad_(True)
    marginal = marginal_logits(log_pi, logits)
    marginal[..., :3].sum().backward()
    assert torch.isfinite(logits.grad).all() and torch.isfinite(log_pi.grad).all()


def test_slices_and_padding_change_no_mixture_weight():
    net = build_model(MIXTURE, seed=2).eval()
    batch = training_batch(seed=3, count=3)
    with torch.no_grad():
        whole_pi, whole = net._heads(batch, None, None)
        sliced_pi, sliced = net._heads(batch, None, 2)
        rng = np.random.default_rng(3)  # the same first example, alone
        first = sample_example(rng, PriorConfig(), FEATURES)
        alone_pi, _ = net._heads(collate([first[1]]), None, None)
    torch.testing.assert_close(sliced, whole)
    torch.testing.assert_close(sliced_pi, whole_pi)
    torch.testing.assert_close(alone_pi[0], whole_pi[0])
    assert batch.state_mask.sum(1).unique().numel() > 1  # the batch is padded


def test_the_fast_inference_path_gives_forwards_bits_for_every_head():
    net = build_model(MIXTURE, seed=1).eval()
    rng = np.random.default_rng(0)
    info = TaskInfo.from_task(default_registry().make("RiverSwim6-v0"))
    stat = ExperienceStatistic(6, 2)
    for _ in range(40):
        stat.update(int(rng.integers(6)), int(rng.integers(2)), float(rng.normal()),
                    int(rng.integers(6)), False)
    batch = collate([featurize(stat, info, FEATURES, bonus=b) for b in (1.0, 0.0)])
    with torch.no_grad():
        slow_pi, slow_heads = net._heads(batch, None, None)
        slow_marginal = net(batch)[0]
    fast_pi, fast_heads = net.heads(batch)
    assert fast_heads.shape == (2, 3, 6, 2) and fast_pi.shape == (2, 3)
    assert torch.equal(fast_pi, slow_pi) and torch.equal(fast_heads, slow_heads)
    assert torch.equal(net.infer(batch), slow_marginal)
    assert not torch.allclose(fast_heads[:, 0], fast_heads[:, 1])  # the heads differ


def test_a_one_head_network_has_no_mixture_and_its_heads_are_its_logits():
    net = build_model(dataclasses.replace(MIXTURE, policy_heads=1), seed=1).eval()
    assert not hasattr(net, "mixture")
    batch = training_batch(count=2)
    log_pi, heads = net.heads(batch)
    assert torch.equal(log_pi, torch.zeros(2, 1))
    assert torch.equal(heads[:, 0], net.infer(batch))
    with pytest.raises(ValueError, match="policy_heads"):
        ModelConfig(policy_heads=0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixture")
    config = TrainConfig(model=MIXTURE, steps=4, batch_size=4, micro_batch=2, warmup_steps=1,
                         validation_mdps=4, validate_every=2, checkpoint_every=1)
    return out, config, train(config, seed=0, out_dir=out, progress=False)


def test_a_mixture_trains_resumes_to_the_same_weights_and_logs_its_weights(trained,
                                                                            tmp_path):
    out, config, metrics = trained
    train(config, seed=0, out_dir=tmp_path, progress=False, stop_after=2)
    train(config, seed=0, out_dir=tmp_path, progress=False)
    assert ((tmp_path / "model.safetensors").read_bytes()
            == (out / "model.safetensors").read_bytes())
    assert {"val_mixture_entropy", "val_head_usage_entropy", "val_head_distance"} <= set(metrics)
    model, loaded = load_model(out)
    assert loaded.model.policy_heads == 3


def test_the_mixture_diagnostics_see_uniform_weights_and_identical_heads():
    from rlbench_icl.fm.train import _mixture_metrics

    net = build_model(MIXTURE, seed=4).eval()
    batch = training_batch(seed=4, count=3)
    with torch.no_grad():
        net.mixture[3].weight.zero_()  # pi uniform
        net.mixture[3].bias.zero_()
        net.head[3].weight.copy_(net.head[3].weight[:1].expand(3, -1))  # one policy, thrice
        net.head[3].bias.fill_(0.5)
    metrics = _mixture_metrics(net, batch)
    assert metrics["val_mixture_entropy"] == pytest.approx(np.log(3), abs=1e-6)
    assert metrics["val_head_usage_entropy"] == pytest.approx(np.log(3), abs=1e-6)
    assert metrics["val_head_distance"] == 0.0
    with torch.no_grad():
        net.mixture[3].bias.copy_(torch.tensor([30.0, 0.0, 0.0]))  # head 0 takes every MDP
        net.head[3].weight[1].mul_(-1.0)
    metrics = _mixture_metrics(net, batch)
    assert metrics["val_mixture_entropy"] < 1e-6 and metrics["val_head_usage_entropy"] < 1e-6
    assert metrics["val_head_distance"] > 0.0


def test_a_run_stored_before_a_config_field_existed_still_resumes(tmp_path):
    import json

    config = TrainConfig(model=dataclasses.replace(MIXTURE, policy_heads=1), steps=2,
                         batch_size=2, micro_batch=2, warmup_steps=1, validation_mdps=2,
                         validate_every=1, checkpoint_every=1)
    train(config, seed=0, out_dir=tmp_path / "whole", progress=False)
    train(config, seed=0, out_dir=tmp_path, progress=False, stop_after=1)
    stored = json.loads((tmp_path / "config.json").read_text())
    del stored["train"]["model"]["policy_heads"]  # as written before the field existed
    (tmp_path / "config.json").write_text(json.dumps(stored))
    train(config, seed=0, out_dir=tmp_path, progress=False)
    assert ((tmp_path / "model.safetensors").read_bytes()
            == (tmp_path / "whole" / "model.safetensors").read_bytes())
    assert "policy_heads" not in json.loads((tmp_path / "config.json").read_text())["train"][
        "model"]  # left as it was


def test_the_online_agent_follows_one_drawn_head_for_a_whole_episode(trained):
    network = fmp.load_network(trained[0])
    info = TaskInfo.from_task(default_registry().make("RiverSwim6-v0"), 5)
    reading = fmp.Reading(bonus=1.0)
    agent = fmp.InContextAgent(network, info, np.random.default_rng(0), reading, 0.1)
    (log_pi, heads, _), (log_pi0, heads0, _) = fmp.batched_heads(
        network, info, ExperienceStatistic(6, 2), reading, (1.0, 0.0))
    np.testing.assert_array_equal(agent.log_pi, log_pi)
    np.testing.assert_array_equal(agent.head_logits, heads)
    assert not np.array_equal(log_pi, log_pi0)  # the exploring reading's weights
    # the exploitation policy is the marginal infer gives for the same batch, to the bit
    context = featurize(ExperienceStatistic(6, 2), info, FEATURES)
    batch = collate([with_bonus(context, 1.0), with_bonus(context, 0.0)])
    marginal = network.infer(batch)[1, :6].numpy().astype(np.float64)
    np.testing.assert_array_equal(agent.exploit_logits, marginal)
    drawn = []
    for _ in range(30):
        drawn.append(agent.head)
        for step in range(3):
            state = step % 6
            action = agent.act(state, step)
            agent.observe(state, action, 0.0, (state + 1) % 6, False)
        agent.end_episode()
    assert len(set(drawn)) > 1  # heads are drawn per episode, not fixed
    assert agent.policy().shape == (6, 2)


def test_heads_are_drawn_from_the_mixture_weights(trained):
    network = fmp.load_network(trained[0])
    info = TaskInfo.from_task(default_registry().make("RiverSwim6-v0"), 5)
    agent = fmp.InContextAgent(network, info, np.random.default_rng(1), fmp.Reading(bonus=1.0),
                               0.1, refresh_ratio=1e9, refresh_floor=1.0)  # never re-reads
    agent.log_pi = np.array([np.log(0.7), np.log(0.3), -np.inf])
    agent.head_logits = np.arange(36.0).reshape(3, 6, 2) % 5  # this tiny network's are alike
    drawn = []
    for _ in range(2000):
        agent.end_episode()
        drawn.append(agent.head)
        np.testing.assert_array_equal(agent.cdf, fmp._cdf(agent.head_logits[agent.head], 0.1))
    counts = np.bincount(drawn, minlength=3)
    assert counts[2] == 0 and abs(counts[0] / 2000 - 0.7) < 0.035  # 3.4 standard errors


@pytest.mark.parametrize("weights, follows", [((0.7, 0.3, 0.0), True), ((0.85, 0.15, 0.0), False)])
def test_a_drawn_head_is_followed_only_while_the_mixture_is_unsure(trained, weights, follows):
    network = fmp.load_network(trained[0])
    info = TaskInfo.from_task(default_registry().make("RiverSwim6-v0"), 5)
    gated, always = (
        fmp.InContextAgent(network, info, np.random.default_rng(2), fmp.Reading(bonus=1.0), 0.1,
                           refresh_ratio=1e9, refresh_floor=1.0, follow_head_below=below)
        for below in (0.8, math.inf))
    heads = np.stack([np.tile([[1.0, 0.0]], (6, 1)), np.tile([[0.0, 1.0]], (6, 1)),
                      np.tile([[0.0, 3.0]], (6, 1))])  # this tiny network's heads are alike
    for agent in (gated, always):
        with np.errstate(divide="ignore"):
            agent.log_pi = np.log(np.array(weights))
        agent.head_logits, agent.logits = heads, np.tile([[0.3, 0.0]], (6, 1))
    for _ in range(20):
        gated.end_episode()
        always.end_episode()
        assert gated.head == always.head  # the same draws: rows of a sweep stay paired
        expected = gated.head_logits[gated.head] if follows else gated.logits
        np.testing.assert_array_equal(gated.cdf, fmp._cdf(expected, 0.1))
    with pytest.raises(ValueError, match="follow_head_below"):
        fmp.InContextAgent(network, info, np.random.default_rng(0), fmp.Reading(bonus=1.0), 0.1,
                           follow_head_below=-1.0)


def test_the_tuning_submission_passes_the_gate_to_its_agent(trained):
    from rlbench_icl.tuning import fm_submission

    info = TaskInfo.from_task(default_registry().make("RiverSwim6-v0"), 5)
    submission = fm_submission(trained[0], fmp.Reading(bonus=1.0), 0.1, follow_head_below=0.5)
    agent = submission.make_online_agent(info, np.random.default_rng(0))
    assert agent.follow_head_below == 0.5 and agent.temperature == 0.1


def test_the_head_floor_adds_each_heads_own_loss():
    batch = training_batch(seed=5)
    B, S, A = batch.targets.shape
    invalid = ~batch.action_mask[:, None, None, :]
    heads = torch.randn(B, 3, S, A).masked_fill(invalid, float("-inf"))
    log_pi = torch.log_softmax(torch.randn(B, 3), dim=1)
    own = sum(policy_loss(heads[:, k], batch) for k in range(3)) / 3
    torch.testing.assert_close(mixture_loss(log_pi, heads, batch, head_floor=0.5),
                               mixture_loss(log_pi, heads, batch) + 0.5 * own)
    same = heads[:, :1].expand(-1, 3, -1, -1)  # one policy: (1 + lambda) x its loss
    torch.testing.assert_close(mixture_loss(log_pi, same, batch, head_floor=1.0),
                               2 * policy_loss(heads[:, 0], batch))
    with pytest.raises(ValueError, match="head_floor"):
        ModelConfig(policy_heads=2, head_floor=-1.0)


def test_a_network_with_a_head_floor_trains_on_it():
    config = TrainConfig(model=dataclasses.replace(MIXTURE, head_floor=1.0), steps=1,
                         batch_size=2, micro_batch=2, warmup_steps=1, validation_mdps=2,
                         validate_every=1, checkpoint_every=1)
    net = build_model(config.model, seed=0).eval()
    batch = training_batch(seed=6, count=2)
    _, with_floor = net(batch)
    _, without = build_model(MIXTURE, seed=0).eval()(batch)
    assert with_floor > without  # the same weights, one more non-negative term
