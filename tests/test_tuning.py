"""The synthetic tuning suites are fixed: every recorded sweep in experiments/ ran on them."""

import pytest

from rlbench_icl.tuning import SUITES, tuning_tasks

# tuning_tasks(4, suite) as benchmarks/tune_baselines.py drew them at commit 12977e8, before
# the suites moved into the package: a change here invalidates every tuning record.
DIGESTS = {
    "default": ["ff43c16750609ef9543ad6296613e84565405e98246a7499f8f7675603458b54",
                "0e743a0fbe86add32c9c9f469bb7c5eb4873ee6b9060c22a5ba2b2de59d4bec9",
                "e9a774c4713aa374fe2761906a865f11f82e3e8a9e65fdd57da04ebd5568d0f5",
                "bf3fcb9be3da2ba313ce5a8732afaf291086c34b2652ba677e28345f2bfd9f21"],
    "explore": ["7c95bf54bab81337711bbe8ec1367dc341e74348126e13f4b0167e1650a3ac41",
                "ad2d3b077a0465627e23bae7978d9f4ac8f4d06a6214b0a2c2695cfe688f6372",
                "1731c19a85236872a60e3d09f0a188779a01041d0c64988963744ad415b25491",
                "7ce9e86b2b345c46b7515fc589b80d72a9e06b6194415f1c926d3c034d556fc4"],
    # recorded when the suite was added (stop 22), before any sweep ran on it
    "gaps": ["88cd224c28e74af36bcf8d131dd28dcaa75462d0c2e1beac5c62b426e9764f4e",
             "009361e79dcfc29ce15deca6df035cae6073adb81d9bc8ee176ffaabc064732d",
             "ef7e5e2369359feabda2809279a6a9f4c182d30500edfd5a92249e2e156d2fb2",
             "d41e5a00bd97868c42cdbac382d37a8feabdbef410d4ff998141c33bcd67eaaf"],
}


@pytest.mark.parametrize("suite", SUITES)
def test_a_suite_is_the_same_on_every_call_and_unchanged_by_the_move(suite):
    first = [task.digest for task in tuning_tasks(4, suite)]
    assert first == [task.digest for task in tuning_tasks(4, suite)]
    assert first == DIGESTS[suite]


def test_an_unknown_suite_is_an_error_not_the_default_suite():
    with pytest.raises(ValueError, match="suite"):
        tuning_tasks(1, "Explore")


def test_first_skips_mdps_without_changing_the_ones_after():
    assert ([task.digest for task in tuning_tasks(2, "gaps", first=2)]
            == [task.digest for task in tuning_tasks(4, "gaps")][2:])
    with pytest.raises(ValueError, match="at least 0"):
        tuning_tasks(1, "gaps", first=-1)
