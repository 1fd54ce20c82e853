"""The foundation model's parts: prior, contexts, features, network, trainer."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from rlbench_icl import ExperienceStatistic, dynprog
from rlbench_icl.fm.context import (
    ContextConfig,
    poisson_context,
    sample_context,
    trajectory_context,
)
from rlbench_icl.fm.features import FeatureConfig, collate, featurize
from rlbench_icl.fm.model import ModelConfig
from rlbench_icl.fm.planning import Horizon, planned_advantages
from rlbench_icl.fm.prior import PriorConfig, optimal_q, sample_batch, sample_example
from rlbench_icl.fm.train import TrainConfig, build_model, load_model, train
from rlbench_icl.synthetic import PAPER_PRIOR, WIDE_PRIOR, sample_mdp

torch.set_num_threads(1)
PLAIN = FeatureConfig()
PLANS = FeatureConfig(plans=True)
SMALL = ModelConfig(width=16, num_heads=2, num_rounds=3)
SMALL_PLANS = dataclasses.replace(SMALL, features=PLANS)
SHIPPED_KIND = dataclasses.replace(SMALL, features=FeatureConfig(
    plans=True, bonus=True, steps_left=True, tie_break=0.3))
CONFIGS = {"plain": SMALL, "plans": SMALL_PLANS, "shipped-kind": SHIPPED_KIND}
H20 = Horizon(20)


def built(config, seed):
    return build_model(config, seed=seed).eval()


def random_stat(rng, S, A, visits=30):
    stat = ExperienceStatistic(S, A)
    for _ in range(visits):
        s, a, s2 = rng.integers(S), rng.integers(A), rng.integers(S)
        stat.update(int(s), int(a), float(rng.normal()), int(s2), bool(rng.random() < 0.05))
    return stat


@pytest.mark.parametrize("prior", [PAPER_PRIOR, WIDE_PRIOR], ids=lambda p: p.name)
def test_prior_samples_are_valid_and_seeded(prior):
    mdps = [sample_mdp(np.random.default_rng(i), prior) for i in range(40)]
    again = [sample_mdp(np.random.default_rng(i), prior) for i in range(40)]
    assert [m.digest for m in mdps] == [m.digest for m in again]
    for m in mdps:  # TabularMDP validated P, R, mu0, terminal rows on construction
        lo, hi = prior.num_states
        assert lo <= m.num_states <= hi and not m.terminal[m.mu0 > 0].any()
    if prior is PAPER_PRIOR:
        assert all(m.discount == 0.95 and m.objective == "discounted" for m in mdps)
        assert max((m.P > 0).sum(axis=2).max() for m in mdps) <= 6


def test_contexts_count_real_transitions():
    rng = np.random.default_rng(0)
    mdp = sample_mdp(rng, WIDE_PRIOR)
    for stat in (poisson_context(rng, mdp, ContextConfig()),
                 trajectory_context(rng, mdp, np.full((mdp.num_states, mdp.num_actions),
                                                      1 / mdp.num_actions), ContextConfig())):
        seen = stat.transition_counts > 0
        assert np.all(mdp.P[seen] > 0), "only possible transitions are counted"
        assert not stat.visits[mdp.terminal].any(), "no action is taken in a terminal state"


def _contexts(mdp, q_star, behaviour, seeds=range(12)):
    config = ContextConfig(poisson_weight=0.0, behaviour=behaviour)
    return [sample_context(np.random.default_rng(i), mdp, q_star, config).transition_counts
            for i in seeds]


def test_blind_contexts_do_not_consult_q_star():
    mdp = sample_mdp(np.random.default_rng(3), WIDE_PRIOR)
    q_star = optimal_q(mdp)
    flipped = -q_star  # every state's best action becomes its worst
    for a, b in zip(_contexts(mdp, q_star, "blind"), _contexts(mdp, flipped, "blind"),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    informed = zip(_contexts(mdp, q_star, "informed"), _contexts(mdp, flipped, "informed"),
                   strict=True)
    assert any(not np.array_equal(a, b) for a, b in informed), "the informed ones do"


def test_context_behaviour_is_checked():
    with pytest.raises(ValueError, match="behaviour must be 'informed' or 'blind'"):
        ContextConfig(behaviour="random")


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_mixed_sizes_in_a_batch_do_not_change_outputs(config):
    rng = np.random.default_rng(1)
    model = built(config, seed=0)
    contexts = [featurize(random_stat(rng, S, A), H20, config.features)
                for S, A in [(3, 2), (7, 4), (5, 3)]]
    with torch.no_grad():
        together, _ = model(collate(contexts))
        for i, c in enumerate(contexts):
            alone, _ = model(collate([c]))
            S, A = c.pair_features.shape[:2]
            torch.testing.assert_close(together[i, :S, :A], alone[0], atol=1e-5, rtol=1e-5)
            assert torch.isinf(together[i, :, A:]).all()


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_relabelling_states_and_actions_permutes_the_output(config):
    rng = np.random.default_rng(2)
    S, A = 6, 3
    stat = random_stat(rng, S, A, visits=60)
    ps, pa = rng.permutation(S), rng.permutation(A)
    permuted = ExperienceStatistic(S, A)
    permuted.transition_counts = stat.transition_counts[ps][:, pa][:, :, ps]
    permuted.reward_sums = stat.reward_sums[ps][:, pa]
    permuted.terminal_seen = stat.terminal_seen[ps]
    permuted.max_abs_reward = stat.max_abs_reward
    model = built(config, seed=1)
    task = Horizon(10, 0.9, "discounted")
    with torch.no_grad():
        out, _ = model(collate([featurize(stat, task, config.features)]))
        out_p, _ = model(collate([featurize(permuted, task, config.features)]))
    torch.testing.assert_close(out_p[0], out[0][ps][:, pa], atol=1e-5, rtol=1e-5)


def test_a_few_steps_fit_one_batch():
    batch = sample_batch(np.random.default_rng(3), PriorConfig(), PLAIN, 4)
    model = build_model(SMALL, seed=2)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        optimiser.zero_grad()
        _, loss = model(batch)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    # The cross-entropy cannot go below the targets' entropy: the excess must halve.
    mask = batch.loss_mask.float()
    entropy = (-(batch.targets * torch.log(batch.targets.clamp(min=1e-12))).sum(-1) * mask
               ).sum() / mask.sum()
    assert losses[-1] - entropy.item() < 0.5 * (losses[0] - entropy.item())


def test_targets_are_boltzmann_over_q_star():
    mdp, context, target, mask = sample_example(np.random.default_rng(4), PriorConfig(), PLAIN)
    np.testing.assert_allclose(target.sum(axis=1), 1.0)
    greedy = optimal_q(mdp).argmax(axis=1)
    assert np.all(target[np.arange(mdp.num_states), greedy] >= target.max(axis=1) - 1e-12)
    assert np.array_equal(mask, ~mdp.terminal)


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_training_resumes_to_the_same_weights(tmp_path, dropout):
    model_config = dataclasses.replace(SMALL, dropout=dropout)  # dropout draws random numbers
    config = TrainConfig(model=model_config, steps=4, batch_size=4, micro_batch=2, warmup_steps=2,
                         validation_mdps=4, validate_every=2, checkpoint_every=1)
    train(config, seed=0, out_dir=tmp_path / "whole", progress=False)
    train(config, seed=0, out_dir=tmp_path / "split", progress=False, stop_after=2)
    assert not (tmp_path / "split" / "model.safetensors").exists()
    metrics = train(config, seed=0, out_dir=tmp_path / "split", progress=False)
    whole = (tmp_path / "whole" / "model.safetensors").read_bytes()
    assert whole == (tmp_path / "split" / "model.safetensors").read_bytes()
    assert metrics["step"] == 4 and 0 <= metrics["val_loss"]
    model, loaded = load_model(tmp_path / "whole")
    assert loaded == config and isinstance(model, torch.nn.Module)


def test_resuming_with_another_config_is_refused(tmp_path):
    from rlbench_icl.errors import ConfigError

    config = TrainConfig(model=SMALL, steps=2, batch_size=2, micro_batch=2, warmup_steps=1,
                         validation_mdps=2, validate_every=1, checkpoint_every=1)
    train(config, seed=0, out_dir=tmp_path, progress=False, stop_after=1)
    with pytest.raises(ConfigError, match="another config or seed"):
        train(config, seed=1, out_dir=tmp_path, progress=False)


def test_configs_round_trip_through_toml(tmp_path):
    from rlbench_icl.fm.train import load_config

    path = tmp_path / "c.toml"
    path.write_text("steps = 7\n[model]\nwidth = 32\n[prior]\nweights = [1.0, 0.0]\n"
                    "[prior.context]\nepisodes = [2, 9]\n")
    config = load_config(path)
    assert config.steps == 7 and config.model.width == 32
    assert config.prior.weights == (1.0, 0.0) and config.prior.context.episodes == (2, 9)
    assert dataclasses.replace(config, steps=7) == config


ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("path", sorted(ROOT.glob("experiments/**/*.toml"))
                         + [ROOT / "submissions/gnn_fm_checkpoint/train.toml"],
                         ids=lambda p: p.name)
def test_every_committed_training_config_loads(path):
    from rlbench_icl.fm.train import load_config

    config = load_config(path)
    build_model(config.model, seed=0)


def test_a_config_lists_what_differs_from_the_one_it_extends(tmp_path):
    from rlbench_icl.errors import ConfigError
    from rlbench_icl.fm.train import load_config

    (tmp_path / "base.toml").write_text("steps = 7\n[model]\nwidth = 32\n"
                                        "[model.features]\nplans = true\n")
    (tmp_path / "child.toml").write_text('extends = "base.toml"\n[model.features]\n'
                                         "bonus = true\n")
    config = load_config(tmp_path / "child.toml")
    assert config.steps == 7 and config.model.width == 32
    assert config.model.features == FeatureConfig(plans=True, bonus=True)
    (tmp_path / "base.toml").write_text('extends = "child.toml"\n')
    with pytest.raises(ConfigError, match="extends loops"):
        load_config(tmp_path / "child.toml")
    (tmp_path / "bad.toml").write_text("[model.features]\nplan = true\n")
    with pytest.raises(ConfigError, match="plan"):
        load_config(tmp_path / "bad.toml")


def test_virtual_outcome_adds_a_fading_bonus_and_leaves_the_statistic_alone():
    from rlbench_icl.fm.virtual import VirtualOutcome as V
    from rlbench_icl.fm.virtual import with_virtual_outcome

    stat = ExperienceStatistic(3, 2)
    for _ in range(3):
        stat.update(0, 0, 0.5, 1, False)
    stat.update(1, 1, -2.0, 2, True)
    before = stat.transition_counts.copy()
    out = with_virtual_outcome(stat, V(1.0, 3.0))
    assert out.transition_counts.shape == (4, 2, 4)
    np.testing.assert_array_equal(out.transition_counts[:3, :, :3], before)
    np.testing.assert_array_equal(stat.transition_counts, before)  # a copy, not an edit
    assert out.terminal_seen.tolist() == [False, False, True, True]
    np.testing.assert_array_equal(out.transition_counts[:3, :, 3], [[1, 1], [1, 1], [0, 0]])
    # the seen pair (0, 0): 3 real rewards of 0.5 and one virtual 3 * max|r| = 6
    assert out.reward_sums[0, 0] == pytest.approx(1.5 + 6.0)
    assert out.reward_sums[0, 1] == pytest.approx(6.0) and out.max_abs_reward == 6.0
    trap = with_virtual_outcome(stat, V(2.0, -1.0))
    assert trap.reward_sums[2].tolist() == [0.0, 0.0]  # terminal: no experience added
    assert trap.reward_sums[0, 1] == pytest.approx(-4.0)
    with pytest.raises(ValueError, match="pseudo_count"):
        V(-1.0, 1.0)
    floored = with_virtual_outcome(stat, V(1.0, 3.0), scale_floor=5.0)  # a declared unit of 5
    assert floored.reward_sums[0, 1] == pytest.approx(15.0) and floored.max_abs_reward == 15.0
    assert with_virtual_outcome(stat, V(1.0, 3.0), scale_floor=1.0).reward_sums[0, 1] == 6.0


def test_a_lasting_trap_repels_where_a_once_paying_trap_lures():
    """Every step costs 1 and action 1 was never tried: a trap that costs 2 once is cheaper
    than ten more steps, a trap that costs 2 every step is not."""
    from rlbench_icl.fm.planning import planned_advantages
    from rlbench_icl.fm.virtual import VirtualOutcome as V
    from rlbench_icl.fm.virtual import with_virtual_outcome

    stat = ExperienceStatistic(2, 2)
    for _ in range(10):
        stat.update(0, 0, -1.0, 1, False)
        stat.update(1, 0, -1.0, 1, False)
    once = with_virtual_outcome(stat, V(1.0, -2.0))
    lasting = with_virtual_outcome(stat, V(1.0, -2.0, lasting=True))
    assert not lasting.terminal_seen[2] and lasting.transition_counts[2, :, 2].tolist() == [1, 1]
    assert lasting.reward_sums[2].tolist() == [-2.0, -2.0]
    for edited, preferred in ((once, 1), (lasting, 0)):
        advantages = planned_advantages(edited, Horizon(10))[:2, :, 0]
        assert advantages.argmax(axis=1).tolist() == [preferred, preferred]


def test_a_worst_trap_pays_the_lowest_mean_reward_seen_or_zero():
    from rlbench_icl.fm.virtual import VirtualOutcome as V
    from rlbench_icl.fm.virtual import with_virtual_outcome

    stat = ExperienceStatistic(2, 2)
    for _ in range(2):
        stat.update(0, 0, -1.0, 1, False)
        stat.update(1, 0, 3.0, 1, False)
    costly = with_virtual_outcome(stat, V(1.0, "worst", lasting=True))
    assert costly.reward_sums[2].tolist() == [-1.0, -1.0]
    assert costly.reward_sums[0, 1] == -1.0 and costly.max_abs_reward == 3.0
    stat.reward_sums[0, 0] = 2.0  # every mean reward positive: the trap pays 0
    assert with_virtual_outcome(stat, V(1.0, "worst", True)).reward_sums[2].tolist() == [0.0, 0.0]
    empty = ExperienceStatistic(2, 2)
    assert with_virtual_outcome(empty, V(1.0, "worst", True)).reward_sums[2].tolist() == [0, 0]
    for bad, lasting in (("Worst", True), ("worst", False)):
        with pytest.raises(ValueError, match="reward must be"):
            V(1.0, bad, lasting)


def test_a_worst_recurring_trap_ignores_costs_paid_on_entering_a_terminal_state():
    from rlbench_icl.fm.virtual import VirtualOutcome as V
    from rlbench_icl.fm.virtual import with_virtual_outcome

    stat = ExperienceStatistic(3, 2)
    stat.update(0, 0, -0.5, 1, False)  # a step cost: recurs
    stat.update(1, 0, -4.0, 2, True)  # falling into a hole: paid once
    worst = with_virtual_outcome(stat, V(1.0, "worst", lasting=True))
    recurring = with_virtual_outcome(stat, V(1.0, "worst-recurring", lasting=True))
    assert worst.reward_sums[3].tolist() == [-4.0, -4.0]
    assert recurring.reward_sums[3].tolist() == [-0.5, -0.5]
    assert recurring.reward_sums[1, 1] == -0.5 and recurring.terminal_seen.tolist() == [
        False, False, True, False]
    with pytest.raises(ValueError, match="reward must be"):
        V(1.0, "worst-recurring", lasting=False)


def test_a_lasting_virtual_state_keeps_the_statistic_consistent():
    from rlbench_icl.fm.virtual import VirtualOutcome as V
    from rlbench_icl.fm.virtual import with_virtual_outcome

    stat = ExperienceStatistic(3, 2)
    stat.update(0, 0, -1.0, 1, False)
    stat.update(1, 1, -1.0, 2, True)  # state 2 is terminal: no virtual experience from it
    out = with_virtual_outcome(stat, V(1.0, -3.0, lasting=True))
    assert out.terminal_seen.tolist() == [False, False, True, False]
    assert out.transition_counts[2].sum() == 0 and out.max_abs_reward == 3.0
    keys = set(zip(*(k.tolist() for k in out.observed_keys()), strict=True))
    assert keys == {tuple(k) for k in np.argwhere(out.transition_counts.reshape(8, 4) > 0)
                    .tolist()}
    assert (3 * 2 + 1, 3) in keys  # the self-loops
    unreachable = with_virtual_outcome(stat, V(0.0, -3.0, lasting=True))
    assert unreachable.max_abs_reward == 3.0  # its reward is in the statistic all the same


def test_the_bonus_is_r_max_on_untried_pairs_and_skips_terminal_states():
    from rlbench_icl.fm.planning import bonus_rewards

    stat = ExperienceStatistic(3, 2)
    stat.update(0, 0, 0.5, 1, False)
    stat.update(1, 1, -2.0, 2, True)
    b = bonus_rewards(stat, 0.5, h_eff=4.0)
    assert b.tolist() == [[0.0, 4.0], [4.0, 0.0], [0.0, 0.0]]  # 0.5 * 4 * max|r| = 2 * 2
    np.testing.assert_allclose(bonus_rewards(stat, -0.5, 4.0), -b)  # pessimism mirrors it
    assert bonus_rewards(stat, 0.5, 4.0, scale_floor=4.0)[0, 1] == 8.0


def test_an_optimistic_target_prefers_the_untried_action():
    """Two actions with equal true value: the bonus target favours the one never tried, the
    pessimistic target the one tried often, and beta is the network's third global input."""
    from rlbench_icl.fm.planning import bonus_rewards
    from rlbench_icl.mdp import TabularMDP

    P = np.zeros((2, 2, 2))
    P[0, :, 1] = 1.0
    P[1, :, 1] = 1.0
    mdp = TabularMDP(P=P, R=np.zeros((2, 2)), mu0=[1.0, 0.0], horizon=5,
                     terminal=[False, True])
    stat = ExperienceStatistic(2, 2)
    for _ in range(20):
        stat.update(0, 0, 0.0, 1, True)
    for beta, preferred in [(0.5, 1), (-0.5, 0)]:
        b = bonus_rewards(stat, beta, 5.0)
        b[mdp.terminal] = 0.0
        assert optimal_q(mdp, b)[0].argmax() == preferred
    config = dataclasses.replace(PriorConfig(), bonus_weights=(0.0, 1.0, 0.0))
    _, context, _, _ = sample_example(np.random.default_rng(0), config, PLAIN)
    assert context.global_features[2] > 0  # optimism drawn, and given to the network


def test_the_bonus_input_is_read_only_by_networks_trained_with_it():
    stat = random_stat(np.random.default_rng(5), 6, 3)
    contexts = [featurize(stat, H20, PLAIN, bonus=b) for b in (0.0, 0.5)]
    for reads in (False, True):
        config = dataclasses.replace(SMALL, features=FeatureConfig(bonus=reads))
        with torch.no_grad():
            plain, optimistic = build_model(config, seed=0).eval()(collate(contexts))[0]
        assert torch.equal(plain, optimistic) != reads


def test_priors_without_a_bonus_draw_nothing_for_it():
    from rlbench_icl.fm.prior import sample_bonus

    rng = np.random.default_rng(7)
    assert sample_bonus(rng, PriorConfig()) == 0.0
    assert rng.random() == np.random.default_rng(7).random()  # nothing was drawn
    config = dataclasses.replace(PriorConfig(), bonus_weights=(0.0, 0.0, 1.0))
    draws = [sample_bonus(rng, config) for _ in range(50)]
    assert all(-1.0 <= b <= -0.003 for b in draws)


def two_state_stat():
    """State 0: action 0 stays and pays 0.05 (tried 5 times). State 1: action 0 stays and
    costs 0.1 (once). Action 1 untried in both."""
    stat = ExperienceStatistic(2, 2)
    for _ in range(5):
        stat.update(0, 0, 0.05, 0, False)
    stat.update(1, 0, -0.1, 1, False)
    return stat


def test_planned_advantages_are_the_r_max_and_pessimistic_plans():
    # scale 0.1, H = 10: an untried pair is worth +-0.1 per remaining step.
    adv = planned_advantages(two_state_stat(), Horizon(10))
    optimistic, pessimistic = adv[..., 0], adv[..., 1]
    # Optimistic: Q(0, 1) = 1.0, Q(0, 0) = 0.05 + 0.9; Q(1, 1) = 1.0, Q(1, 0) = -0.1 + 0.9.
    np.testing.assert_allclose(optimistic, [[-0.05, 0.0], [-0.2, 0.0]], atol=1e-12)
    # Pessimistic: Q(0, 0) = 0.5, Q(0, 1) = -1.0; in state 1 both are worth -1.0.
    np.testing.assert_allclose(pessimistic, [[0.0, -1.5], [0.0, 0.0]], atol=1e-12)
    # Discounted: the untried pair is worth 0.1 / (1 - 0.9) = 1, staying 0.05 / 0.1 = 0.5.
    adv = planned_advantages(two_state_stat(), Horizon(10, 0.9, "discounted"))
    np.testing.assert_allclose(adv[0, :, 0], [-0.05, 0.0], atol=1e-9)


def circle_mdp():
    """States 0 and 1 each either enter the goal (2, terminal, reward 1) or pass to the other:
    undiscounted over H = 10, both actions are worth 1 at the first step, and a stationary
    policy that passes in both states circles forever and never scores."""
    from rlbench_icl.mdp import TabularMDP

    P = np.zeros((3, 2, 3))
    P[0, 0, 2] = P[1, 0, 2] = P[0, 1, 1] = P[1, 1, 0] = 1.0
    P[2, :, 2] = 1.0
    R = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    return TabularMDP(P=P, R=R, mu0=np.array([1.0, 0, 0]), horizon=10,
                      terminal=np.array([False, False, True]))


def test_a_tie_break_discount_breaks_the_first_step_tie_of_targets_and_plans():
    mdp = circle_mdp()
    tied, stationary = optimal_q(mdp), optimal_q(mdp, tie_break=1.0)
    np.testing.assert_allclose(tied[:2], [[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(stationary[:2], [[1.0, 0.9], [1.0, 0.9]])  # 1 - 1/H = 0.9
    stat = ExperienceStatistic(3, 2)
    for s, a, r, s2 in ((0, 0, 1.0, 2), (1, 0, 1.0, 2), (0, 1, 0.0, 1), (1, 1, 0.0, 0)):
        stat.update(s, a, r, s2, s2 == 2)
    for column in (0, 1):  # the R-max and the pessimistic plan (every pair is tried)
        first = planned_advantages(stat, Horizon(10))[:2, :, column]
        quick = planned_advantages(stat, Horizon(10), tie_break=1.0)[:2, :, column]
        np.testing.assert_allclose(first, 0.0, atol=1e-12)
        np.testing.assert_allclose(quick, [[0.0, -0.01], [0.0, -0.01]])  # -0.1 / (1 x 10)
    other = FeatureConfig(plans=True, tie_break=0.5)
    plain = featurize(stat, Horizon(10), PLANS)
    np.testing.assert_array_equal(plain.pair_features[..., :3],
                                  featurize(stat, Horizon(10), other).pair_features[..., :3])
    discounted = Horizon(10, 0.9, "discounted")  # no tie to break: the same plans
    assert np.array_equal(featurize(stat, discounted, PLANS).pair_features,
                          featurize(stat, discounted, other).pair_features)


def test_planned_advantages_leave_terminal_states_alone_and_follow_observed_moves():
    stat = ExperienceStatistic(3, 2)
    for _ in range(4):  # 0 -a0-> 1 (terminal, pays 1); 0 -a1-> 2 (pays 0.2), 2 -a0-> 2
        stat.update(0, 0, 1.0, 1, True)
        stat.update(0, 1, 0.2, 2, False)
        stat.update(2, 0, 0.0, 2, False)
    adv = planned_advantages(stat, Horizon(5))
    assert np.all(adv[1] == 0.0), "a terminal state has no preference"
    # Pessimistic: the goal (1.0 once) beats 0.2 then nothing; optimistic: 0.2 then the
    # untried (2, 1) paying 1.0 for 3 steps beats it.
    assert adv[0, 0, 1] == 0.0 and adv[0, 1, 1] < 0
    assert adv[0, 1, 0] == 0.0 and adv[0, 0, 0] < 0


def test_networks_refuse_contexts_of_the_other_kind():
    stat = random_stat(np.random.default_rng(5), 4, 2)
    plain, plans = featurize(stat, Horizon(10), PLAIN), featurize(stat, Horizon(10), PLANS)
    assert plans.pair_features.shape[-1] == plain.pair_features.shape[-1] + 2
    with pytest.raises(ValueError, match="plans=True"):
        build_model(SMALL_PLANS, seed=0)(collate([plain]))
    with pytest.raises(ValueError, match="with and without plans"):
        collate([plain, plans])


def test_plans_draw_nothing_and_train(tmp_path):
    plain = sample_example(np.random.default_rng(6), PriorConfig(), PLAIN)
    plans = sample_example(np.random.default_rng(6), PriorConfig(), PLANS)
    assert plain[0].digest == plans[0].digest and np.array_equal(plain[2], plans[2])
    np.testing.assert_array_equal(plans[1].pair_features[..., :3], plain[1].pair_features)
    config = TrainConfig(model=SMALL_PLANS, steps=2, batch_size=4, micro_batch=2,
                         warmup_steps=1, validation_mdps=4, validate_every=2)
    assert train(config, seed=0, out_dir=tmp_path, progress=False)["step"] == 2
    assert load_model(tmp_path)[0].config.features.plans


def test_with_bonus_equals_featurizing_with_that_bonus():
    from rlbench_icl.fm.features import with_bonus

    stat = random_stat(np.random.default_rng(7), 5, 3)
    base = featurize(stat, H20, PLANS)
    for bonus in (0.3, -0.1):
        direct = featurize(stat, H20, PLANS, bonus=bonus)
        swapped = with_bonus(base, bonus)
        for field in dataclasses.fields(direct):
            assert np.array_equal(getattr(direct, field.name), getattr(swapped, field.name))
    assert base.global_features[2] == 0.0, "the base context is left alone"


def test_plans_are_read_on_a_log_scale_that_keeps_the_order_and_makes_small_gaps_readable():
    from rlbench_icl.fm.planning import log_scaled

    x = np.array([0.0, -1e-6, -1e-4, -1e-2, -1.0, -2.0])
    y = log_scaled(x)
    assert y[0] == 0.0 and np.all(np.diff(y) < 0), "monotone, 0 stays 0"
    np.testing.assert_allclose(y[[2, 3, 4]], [-1 / 3, -2 / 3, -1.0], atol=0.01)
    stat = random_stat(np.random.default_rng(9), 5, 3, visits=40)
    logged = featurize(stat, Horizon(12), PLANS)
    np.testing.assert_allclose(logged.pair_features[..., 3:],
                               log_scaled(planned_advantages(stat, Horizon(12))), atol=1e-6)


def test_state_unit_targets_are_sharp_where_actions_differ_little():
    from rlbench_icl.fm.prior import target_policy

    mdp = circle_mdp()  # rewards in [0, 1]; stationary Q*: 1.0 against 0.9 in states 0, 1
    q = optimal_q(mdp, tie_break=1.0)
    paper, sharp = target_policy(q, mdp, 0.2), target_policy(q, mdp, 0.2, "state")
    np.testing.assert_allclose(paper[0], np.exp([0.0, -0.5]) / np.exp([0.0, -0.5]).sum())
    np.testing.assert_allclose(sharp[0], np.exp([0.0, -5.0]) / np.exp([0.0, -5.0]).sum())
    np.testing.assert_allclose(sharp[2], [0.5, 0.5])  # all actions equal: uniform
    wide = q * 10  # a spread of 1 = max|r| in states 0 and 1: the paper's target
    np.testing.assert_allclose(target_policy(wide, mdp, 0.2, "state"),
                               target_policy(wide, mdp, 0.2))
    with pytest.raises(ValueError, match="target_unit"):
        PriorConfig(target_unit="action")


def test_a_scale_floor_reads_rewards_in_a_known_unit():
    # two_state_stat: max |r| seen 0.1; with a floor of 1, the mean reward 0.05 reads as 0.05
    # and an untried pair pays +-1 per remaining step in the plans (H = 10).
    stat = two_state_stat()
    plain = featurize(stat, Horizon(10), PLANS)
    low = featurize(stat, Horizon(10), PLANS, scale_floor=0.05)
    np.testing.assert_array_equal(plain.pair_features, low.pair_features)  # below max |r|
    floored = featurize(stat, Horizon(10), PLANS, scale_floor=1.0)
    assert plain.reward_scale == 0.1 and floored.reward_scale == 1.0
    np.testing.assert_allclose(floored.pair_features[0, 0, 1], 0.05, rtol=1e-6)
    optimistic = planned_advantages(stat, Horizon(10), scale_floor=1.0)[..., 0]
    # Q(0, 1) = 10 (untried pays 1 for 10 steps), Q(0, 0) = 0.05 + 9: advantage -0.95 / 10.
    np.testing.assert_allclose(optimistic[0], [-0.095, 0.0], atol=1e-12)


def test_plans_and_targets_with_steps_left_are_those_of_the_later_step():
    from rlbench_icl.fm.features import featurize_steps
    from rlbench_icl.fm.planning import plans_by_step, stationary_discount

    mdp, stat = circle_mdp(), random_stat(np.random.default_rng(11), 3, 2, visits=40)
    by_step = plans_by_step(stat, Horizon(10), tie_break=0.3)
    assert by_step.shape == (10, 3, 2, 2)
    for h in (1, 4, 10):
        np.testing.assert_array_equal(
            planned_advantages(stat, Horizon(10), tie_break=0.3, steps_left=h), by_step[10 - h])
    gamma = stationary_discount(10, 1.0, 0.3)
    assert gamma == pytest.approx(0.97)
    Q = dynprog.backward_induction(mdp.P, mdp.R, 10, gamma)[0]
    np.testing.assert_array_equal(optimal_q(mdp, tie_break=0.3, steps_left=3), Q[7])
    np.testing.assert_array_equal(optimal_q(mdp, tie_break=0.3), Q[0])
    # One call for every step equals featurizing each step alone; only plans and the
    # steps-left feature differ between steps.
    features = FeatureConfig(plans=True, tie_break=0.3)
    contexts = featurize_steps(stat, Horizon(10), features, range(1, 11))
    assert len(contexts) == 10
    for h, context in zip(range(1, 11), contexts, strict=True):
        alone = featurize(stat, Horizon(10), features, steps_left=h)
        np.testing.assert_array_equal(context.pair_features, alone.pair_features)
        np.testing.assert_array_equal(context.global_features, alone.global_features)
        assert context.global_features[3] == pytest.approx(np.log(h) / 5)
    first = featurize(stat, Horizon(10), features)
    np.testing.assert_array_equal(first.pair_features, contexts[-1].pair_features)
    with pytest.raises(ValueError, match="steps_left must be in 1..10"):
        featurize(stat, Horizon(10), features, steps_left=11)


def test_only_networks_built_to_read_steps_left_read_them():
    stat = random_stat(np.random.default_rng(12), 5, 3)
    reads_bonus = FeatureConfig(plans=True, bonus=True)
    stepped = dataclasses.replace(reads_bonus, steps_left=True)
    assert reads_bonus.global_columns() == [0, 1, 2] and stepped.global_columns() == [0, 1, 2, 3]
    assert dataclasses.replace(stepped, bonus=False).global_columns() == [0, 1, 3]
    early, late = (featurize(stat, H20, FeatureConfig(plans=True, tie_break=0.5),
                             steps_left=h) for h in (20, 2))
    late.pair_features[:] = early.pair_features  # only the steps-left feature differs
    for features, reads in ((reads_bonus, False), (stepped, True)):
        model = build_model(dataclasses.replace(SMALL, features=features), seed=0).eval()
        with torch.no_grad():
            a, b = model(collate([early]))[0], model(collate([late]))[0]
        assert torch.equal(a, b) != reads


def test_steps_left_examples_draw_late_steps_and_priors_without_them_draw_nothing():
    from rlbench_icl.fm.prior import sample_steps_left

    rng, mdp = np.random.default_rng(3), circle_mdp()
    state = rng.bit_generator.state
    assert sample_steps_left(rng, mdp, PriorConfig()) is None
    assert rng.bit_generator.state == state  # at 0 nothing is drawn
    drawn = [sample_steps_left(rng, mdp, PriorConfig(steps_left=1.0)) for _ in range(200)]
    assert set(drawn) <= set(range(1, 10)) and drawn.count(1) > drawn.count(9)
    examples = [sample_example(np.random.default_rng(i), PriorConfig(steps_left=1.0), PLANS)
                for i in range(40)]
    finite = [(m, c) for m, c, _, _ in examples if m.objective == "finite" and m.horizon > 1]
    assert finite and all(c.global_features[3] < c.global_features[0] for _, c in finite)
    with pytest.raises(ValueError, match="probability"):
        PriorConfig(steps_left=-0.1)
    with pytest.raises(ValueError, match="tie_break"):
        FeatureConfig(tie_break=1.0)


def test_training_with_dropout_does_not_depend_on_torchs_global_generator(tmp_path):
    """Dropout draws from the network's own generator (STYLE: randomness is an argument):
    whatever state torch's global generator is in, training gives the same weights."""
    config = TrainConfig(model=dataclasses.replace(SMALL, dropout=0.1), steps=2, batch_size=2,
                         micro_batch=2, warmup_steps=1, validation_mdps=2, validate_every=2,
                         checkpoint_every=2)
    weights = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        train(config, seed=0, out_dir=tmp_path / str(global_seed), progress=False)
        weights.append((tmp_path / str(global_seed) / "model.safetensors").read_bytes())
    assert weights[0] == weights[1]
