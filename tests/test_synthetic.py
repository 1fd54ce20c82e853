"""The structured synthetic priors (chains, close-gap bandits) and noisy training contexts."""

import numpy as np
import pytest

from rlbench_icl import dynprog
from rlbench_icl.experience import ExperienceStatistic
from rlbench_icl.fm.context import _add_rewards
from rlbench_icl.synthetic import BANDIT_PRIOR, CHAIN_PRIOR, WIDE_PRIOR, MDPPrior, sample_mdp
from rlbench_icl.tuning import tuning_tasks


def test_chains_vary_in_length_and_pay_most_at_the_far_end():
    rng = np.random.default_rng(0)
    lengths = []
    for _ in range(300):
        mdp = sample_mdp(rng, CHAIN_PRIOR)
        L = mdp.num_states
        lengths.append(L)
        np.testing.assert_allclose(mdp.P.sum(axis=2), 1.0)
        assert mdp.mu0[0] == 1.0 and mdp.num_actions == 2
        assert mdp.R[L - 1].max() == 1.0 and 0.001 <= mdp.R[0].max() <= 0.1 or L == 1
        assert np.count_nonzero(mdp.R) == 2
        swim = mdp.R[L - 1].argmax()  # swimming on at the far end never leaves it forwards
        assert mdp.P[L - 1, swim, L - 1] > 0
    assert min(lengths) <= 4 and max(lengths) >= 20


def test_a_long_enough_chain_is_worth_swimming():
    """With a horizon several times its length, the far end beats the small sure reward."""
    rng = np.random.default_rng(1)
    worth = 0
    for _ in range(100):
        mdp = sample_mdp(rng, CHAIN_PRIOR)
        if mdp.objective != "finite" or mdp.horizon < 5 * mdp.num_states:
            continue
        V = dynprog.backward_induction(mdp.P, mdp.R, mdp.horizon)[1][0, 0]
        worth += V > mdp.R[0].max() * mdp.horizon
    assert worth > 10


def test_bandits_have_small_gaps_and_noisy_rewards():
    rng = np.random.default_rng(2)
    noises, gaps = set(), []
    for _ in range(300):
        mdp = sample_mdp(rng, BANDIT_PRIOR)
        means = np.sort(mdp.R[0])[::-1]
        assert mdp.num_states == 1 and 2 <= len(means) <= 12
        assert 0.0 <= means[-1] and means[0] <= 0.9
        gaps.append(means[0] - means[1])
        noises.add(mdp.reward_noise)
    assert noises == {"bernoulli", "gaussian"}
    assert 0.01 - 1e-12 <= min(gaps) and max(gaps) <= 0.3 + 1e-12 and np.median(gaps) < 0.1


def test_an_unknown_kind_of_prior_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        MDPPrior(name="x", kind="maze")


def _stat(mdp, visits: int) -> ExperienceStatistic:
    stat = ExperienceStatistic(mdp.num_states, mdp.num_actions)
    stat.transition_counts = np.zeros(mdp.P.shape)
    stat.transition_counts[:, :, 0] = visits  # one state: every pull returns to it
    return stat


@pytest.mark.parametrize("noise", ["bernoulli", "gaussian"])
def test_noisy_contexts_draw_each_pairs_reward_sum(noise):
    rng = np.random.default_rng(3)
    mdp = next(m for m in (sample_mdp(rng, BANDIT_PRIOR) for _ in range(100))
               if m.reward_noise == noise)
    n = 20_000
    stat = _stat(mdp, n)
    _add_rewards(stat, mdp, np.random.default_rng(4))
    mean = stat.reward_sums[0] / n
    sd = 0.5 if noise == "bernoulli" else mdp.reward_std
    assert np.all(np.abs(mean - mdp.R[0]) < 5 * sd / np.sqrt(n))
    variance = stat.reward_sq_sums[0] / n - mean ** 2
    expected = mdp.R[0] * (1 - mdp.R[0]) if noise == "bernoulli" else mdp.reward_std ** 2
    np.testing.assert_allclose(variance, expected, atol=0.05 * max(np.max(expected), 0.01))
    if noise == "bernoulli":
        assert np.array_equal(stat.reward_sums, np.round(stat.reward_sums))
        assert stat.max_abs_reward == 1.0


def test_deterministic_contexts_draw_no_random_numbers():
    mdp = sample_mdp(np.random.default_rng(5), WIDE_PRIOR)
    stat = ExperienceStatistic(mdp.num_states, mdp.num_actions)
    stat.transition_counts = np.ones(mdp.P.shape) * (mdp.P > 0)
    rng = np.random.default_rng(6)
    _add_rewards(stat, mdp, rng)
    assert rng.random() == np.random.default_rng(6).random()


def test_the_gaps_tuning_suite_alternates_chains_and_bandits_on_its_own_stream():
    tasks = tuning_tasks(6, "gaps")
    assert [t.mdp.num_states == 1 for t in tasks] == [False, True] * 3
    assert [t.mdp.P.tobytes() for t in tasks] == [t.mdp.P.tobytes()
                                                  for t in tuning_tasks(6, "gaps")]
