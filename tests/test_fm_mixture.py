"""Mixture networks (ModelConfig.policy_heads > 1): loss, marginal, fast path, training and
the online agent's one head per episode."""

import dataclasses

import numpy as np
import pytest
import torch

from rlbench_icl import ExperienceStatistic, TaskInfo, default_registry
from rlbench_icl.fm import policy as fmp
from rlbench_icl.fm.features import FeatureConfig, collate, featurize
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
    # distinct heads: the likelihood is a mixture's, at least that of its best head's weight
    heads = torch.randn(B, 4, S, A).masked_fill(~batch.action_mask[:, None, None, :],
                                                float("-inf"))
    each = torch.stack([policy_loss(heads[:, k], batch) for k in range(4)])
    assert mixture_loss(log_pi, heads, batch) <= each.max() + 1e-6


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
    assert 0.0 <= metrics["val_mixture_entropy"] <= np.log(3) + 1e-6
    assert 1 / 3 - 1e-6 <= metrics["val_mixture_max_weight"] <= 1.0
    model, loaded = load_model(out)
    assert loaded.model.policy_heads == 3 and model.mixture is not None


def test_the_online_agent_follows_one_drawn_head_for_a_whole_episode(trained):
    network = fmp.load_network(trained[0])
    info = TaskInfo.from_task(default_registry().make("RiverSwim6-v0"), 5)
    reading = fmp.Reading(bonus=1.0)
    agent = fmp.InContextAgent(network, info, np.random.default_rng(0), reading, 0.1)
    (log_pi, heads), (log_pi0, heads0) = fmp.batched_heads(
        network, info, ExperienceStatistic(6, 2), reading, (1.0, 0.0))
    np.testing.assert_array_equal(agent.log_pi, log_pi)
    np.testing.assert_array_equal(agent.head_logits, heads)
    expected = marginal_logits(torch.from_numpy(log_pi0)[None], torch.from_numpy(heads0)[None])
    np.testing.assert_array_equal(agent.exploit_logits, expected[0].numpy())
    drawn = []
    for _ in range(30):
        np.testing.assert_array_equal(agent.cdf, fmp._cdf(agent.head_logits[agent.head], 0.1))
        drawn.append(agent.head)
        for step in range(3):
            state = step % 6
            action = agent.act(state, step)
            agent.observe(state, action, 0.0, (state + 1) % 6, False)
        agent.end_episode()
    assert len(set(drawn)) > 1  # heads are drawn per episode, not fixed
    assert agent.policy().shape == (6, 2)
