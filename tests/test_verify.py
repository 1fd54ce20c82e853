"""`rlbench-icl verify`: stored runs re-run and compared; the leaderboard's verified column."""

import json
import shutil
from pathlib import Path

import pytest

from rlbench_icl.cli import main
from rlbench_icl.leaderboard import build_leaderboard
from rlbench_icl.registry import load_registry
from rlbench_icl.scoring import BootstrapConfig
from rlbench_icl.stamps import verification_status
from rlbench_icl.verify import first_difference, sample_files, verify_submission


@pytest.fixture(scope="module")
def stored(tmp_path_factory, tiny_tasks) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("verify") / "results"
    for agent in ("random", "ucbvi"):
        assert main(["run", "--agent", agent, "--tasks", "TinyChain-v0", "--seeds", "3",
                     "--jobs", "1", "--quiet", "--out", str(out),
                     "--task-path", str(tiny_tasks)]) == 0
    return out, tiny_tasks


KEY: dict[str, Path] = {}


@pytest.fixture(scope="module", autouse=True)
def key(tmp_path_factory) -> Path:
    """The maintainers' signing key of these tests; its public half is trusted beside every
    copy of the results (``copy``), and ``verify`` signs with it."""
    path = tmp_path_factory.mktemp("keys") / "maintainer.key"
    assert main(["keys", "new", str(path)]) == 0
    KEY["private"] = path
    return path


def copy(stored, tmp_path) -> Path:
    shutil.copytree(stored[0], tmp_path / "results")
    (tmp_path / "keys").mkdir(exist_ok=True)
    shutil.copy(KEY["private"].with_name("maintainer.key.pub"), tmp_path / "keys")
    return tmp_path / "results"


def verify(results: Path, tasks: Path, *extra: str) -> int:
    return main(["verify", "--results", str(results), "--jobs", "1", "--task-path", str(tasks),
                 "--sign", str(KEY["private"]), *extra])


def test_untouched_results_verify_and_the_leaderboard_says_so(stored, tmp_path, capsys):
    results = copy(stored, tmp_path)
    assert verify(results, stored[1], "--all") == 0
    table = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert table["random"] == ["6", "6", "0"] and table["ucbvi"] == ["3", "3", "0"]
    assert verification_status(results, "random") == "6/6"
    assert verification_status(results, "ucbvi") == "3/3"
    build_leaderboard(results, tmp_path / "board", load_registry([stored[1]]),
                      BootstrapConfig(resamples=50), suite_tag="TinyChain-v0", seeds=3)
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in (tmp_path / "board" / "README.md").read_text().splitlines()
            if line.startswith("|")]
    header = next(r for r in rows if "verified" in r)
    column = header.index("verified")
    verified = sorted((r[1], r[column]) for r in rows
                      if len(r) == len(header) and r[0].isdigit())
    # per protocol: random's 6 = 3 online + 3 offline; ucbvi is online only
    assert verified == [("random", "3/3"), ("random", "3/3"), ("ucbvi", "3/3")]


def test_a_hand_edited_file_fails_verification(stored, tmp_path, capsys):
    results = copy(stored, tmp_path)
    path = results / "ucbvi" / "online" / "TinyChain-v0" / "seed-1.json"
    record = json.loads(path.read_text())
    record["result"]["episodes"]["returns"][2] += 1.0
    path.write_text(json.dumps(record))
    assert verify(results, stored[1], "--all", "--submission", "ucbvi") == 1
    err = capsys.readouterr().err
    assert "ucbvi/online/TinyChain-v0/seed-1.json" in err
    assert "result.episodes.returns[2]" in err
    assert verification_status(results, "ucbvi") == "failed (1 of 3 differ)"
    assert verification_status(results, "random") == "no"


def test_editing_after_verification_makes_it_stale(stored, tmp_path):
    results = copy(stored, tmp_path)
    assert verify(results, stored[1], "--all", "--submission", "random") == 0
    path = results / "random" / "offline" / "TinyChain-v0" / "seed-0.json"
    record = json.loads(path.read_text())
    record["result"]["cells"][0]["value"] += 0.25
    path.write_text(json.dumps(record))
    assert verification_status(results, "random") == "stale"


def test_stamps_survive_packing(stored, tmp_path):
    results = copy(stored, tmp_path)
    assert verify(results, stored[1], "--sample", "2", "--submission", "random") == 0
    assert main(["pack", "--results", str(results), "--out", str(tmp_path / "packed")]) == 0
    assert verification_status(tmp_path / "packed", "random") == "2/2"


def test_a_new_submission_version_is_not_verified_against_old_files(stored, tmp_path):
    results = copy(stored, tmp_path)
    for path in (results / "random").rglob("seed-*.json"):
        record = json.loads(path.read_text())
        record["submission"]["version"] = "0-old"
        path.write_text(json.dumps(record))
    verdicts = verify_submission(results, "random", sample=2,
                                 task_paths=[str(stored[1])]).verdicts
    assert len(verdicts) == 2 and all("a new version?" in v.problem for v in verdicts)


def test_the_sample_is_seeded_and_sorted():
    paths = [Path(f"f{i:02d}") for i in range(30)]
    a, b = sample_files(paths, 5, seed=3), sample_files(paths, 5, seed=3)
    assert a == b == sorted(a) and len(set(a)) == 5
    assert sample_files(paths, 5, seed=4) != a
    assert sample_files(paths, 50, seed=0) == paths


def test_first_difference_names_the_place():
    assert first_difference({"a": [1, 2.0]}, {"a": [1, 2.0]}) is None
    assert first_difference({"a": [1, 2.0]}, {"a": [1, 2.5]}) == "a[1]: stored 2.0, re-run 2.5"
    assert "b: present in only one" in first_difference({"a": 1}, {"a": 1, "b": 2})
    assert first_difference({"a": 1}, {"a": 1.0}) is not None  # int vs float is a change


def test_an_unknown_submission_is_reported_and_the_others_verified(stored, tmp_path, capsys):
    results = copy(stored, tmp_path)
    shutil.copytree(results / "random", results / "my-private-agent")
    assert verify(results, stored[1], "--sample", "2") == 2
    err = capsys.readouterr().err
    assert "cannot verify my-private-agent" in err and "--agent REF" in err
    assert verification_status(results, "random") == "2/2"
    assert verification_status(results, "my-private-agent") == "no"


@pytest.mark.parametrize("name", ["os:abort", "evil.py", "json:dumps"])
def test_directory_names_are_never_imported_as_code(stored, tmp_path, capsys, name):
    results = copy(stored, tmp_path)
    (results / name / "online").mkdir(parents=True)
    assert verify(results, stored[1], "--submission", name) == 2
    assert f"cannot verify {name}: unknown submission" in capsys.readouterr().err


def test_a_stamp_copied_to_another_submission_verifies_nothing(stored, tmp_path):
    results = copy(stored, tmp_path)
    assert verify(results, stored[1], "--all", "--submission", "random") == 0
    (results / "forged").mkdir()
    shutil.copy(results / "random" / "verified.json", results / "forged" / "verified.json")
    assert verification_status(results, "forged").startswith("unreadable stamp")
    stamp = json.loads((results / "random" / "verified.json").read_text())
    stamp["reproduced"] = ["not", "a", "mapping"]
    (results / "random" / "verified.json").write_text(json.dumps(stamp))
    assert verification_status(results, "random").startswith("unreadable stamp")


def test_verified_counts_are_per_protocol(stored, tmp_path):
    results = copy(stored, tmp_path)
    assert verify(results, stored[1], "--all", "--submission", "random") == 0
    assert verification_status(results, "random", "online") == "3/3"
    assert verification_status(results, "random", "offline") == "3/3"


def test_a_file_whose_content_points_elsewhere_is_a_verdict_not_a_crash(stored, tmp_path,
                                                                        capsys):
    results = copy(stored, tmp_path)
    path = results / "random" / "online" / "TinyChain-v0" / "seed-2.json"
    record = json.loads(path.read_text())
    record["task"]["id"] = "TinyChain-v0/../x"
    path.write_text(json.dumps(record))
    assert verify(results, stored[1], "--all", "--submission", "random") == 1
    err = capsys.readouterr().err
    assert "seed-2.json" in err and "cannot name a result file" in err
    assert verification_status(results, "random") == "failed (1 of 6 differ)"


def test_a_second_sample_adds_to_the_stamp_and_forgets_nothing(stored, tmp_path):
    from rlbench_icl.stamps import write_stamp

    results = copy(stored, tmp_path)
    stamp = results / "random" / "verified.json"
    assert verify(results, stored[1], "--sample", "2", "--submission", "random") == 0
    first = set(json.loads(stamp.read_text())["reproduced"])
    assert verify(results, stored[1], "--sample", "2", "--seed", "1",
                  "--submission", "random") == 0
    both = set(json.loads(stamp.read_text())["reproduced"])
    assert first <= both and len(first) == 2
    assert verification_status(results, "random") == f"{len(both)}/{len(both)}"
    # a file edited after it was verified stays stale through a run that did not re-check it
    record = json.loads((results / sorted(first)[0]).read_text())
    record["result"]["scores"] = {**record["result"]["scores"], "edited": 1.0}
    (results / sorted(first)[0]).write_text(json.dumps(record))
    write_stamp(results, "random", [], seed=2)
    assert verification_status(results, "random") == "stale"
    stamp.write_text("not json")  # an unreadable stamp is replaced, not merged
    write_stamp(results, "random", [], seed=3)
    assert verification_status(results, "random") == "no"


def test_verify_can_sample_the_runs_of_some_tasks_only(stored, tmp_path, capsys):
    results = copy(stored, tmp_path)
    none = verify_submission(results, "random", None, task_paths=[str(stored[1])],
                             tasks=["TinyBandit-v0"]).verdicts
    chain = verify_submission(results, "random", None, task_paths=[str(stored[1])],
                              tasks=["TinyChain-v0"]).verdicts
    assert none == [] and len(chain) == 6 and all(v.problem is None for v in chain)
    assert verify(results, stored[1], "--tasks", "tiny", "--submission", "ucbvi") == 0
    assert capsys.readouterr().out.splitlines()[-1].split() == ["ucbvi", "3", "3", "0"]


def test_only_a_stamp_signed_by_a_trusted_key_counts(stored, tmp_path):
    """Issue 24: a ten-line script could write a stamp that the leaderboard showed as
    verified. Unsigned, signed by another key, or edited after signing, it does not count."""
    from rlbench_icl.stamps import STAMP, load_private_key, new_key, sign

    results = copy(stored, tmp_path)
    assert main(["verify", "--results", str(results), "--jobs", "1", "--task-path",
                 str(stored[1]), "--all", "--submission", "random"]) == 0  # unsigned
    assert verification_status(results, "random") == "unsigned (6/6)"
    assert verify(results, stored[1], "--all", "--submission", "random") == 0
    assert verification_status(results, "random") == "6/6"
    path = results / "random" / STAMP
    stamp = json.loads(path.read_text())
    edited = {**stamp, "differ": {}, "reproduced": {**stamp["reproduced"]}}
    edited["reproduced"]["random/online/TinyChain-v0/seed-9.json"] = "0" * 64
    path.write_text(json.dumps(edited))
    assert verification_status(results, "random") == "forged"
    new_key(tmp_path / "attacker.key")
    stamp["signature"] = sign(stamp, load_private_key(tmp_path / "attacker.key"))
    path.write_text(json.dumps(stamp))
    assert verification_status(results, "random") == "untrusted key (6/6)"  # not counted
    trusted = sign(stamp, load_private_key(KEY["private"]))  # the trusted key's id ...
    stamp["signature"] = {**stamp["signature"], "key": trusted["key"]}  # ... on another's
    path.write_text(json.dumps(stamp))                                  # signature
    assert verification_status(results, "random") == "forged"


def test_a_genuine_stamp_whose_key_is_missing_is_not_called_forged(stored, tmp_path):
    """Results copied without the keys/ beside them: their signed stamps cannot be checked,
    so they count for nothing, but the leaderboard does not accuse them of forgery."""
    results = copy(stored, tmp_path)
    assert verify(results, stored[1], "--all", "--submission", "random") == 0
    assert verification_status(results, "random") == "6/6"
    for key in (results.parent / "keys").glob("*.pub"):
        key.unlink()
    assert verification_status(results, "random") == "untrusted key (6/6)"


def test_verify_names_the_code_hashes_of_mixed_runs(stored, tmp_path, capsys):
    results = copy(stored, tmp_path)
    path = results / "ucbvi" / "online" / "TinyChain-v0" / "seed-2.json"
    record = json.loads(path.read_text())
    record["code"]["sha256"] = "e" * 64
    path.write_text(json.dumps(record))
    assert verify(results, stored[1], "--all", "--submission", "ucbvi") == 1
    err = capsys.readouterr().err
    assert "ucbvi: its stored runs come from 2 code hashes" in err
    assert "eeeeeeeeeeee (1 runs)" in err and "(2 runs)" in err
    assert "the submission's code changed since this run" in err  # the odd one is refused
