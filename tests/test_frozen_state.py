"""Issue 20: a run certifies that the submission's frozen state (an FM's weights) did not
change, and verify checks the certificate."""

import gzip
import json
import re
from pathlib import Path

from rlbench_icl import store
from rlbench_icl.cli import main

FROZEN = Path(__file__).with_name("frozen_submissions.py")


def _run(name: str, out: Path) -> int:
    return main(["run", "--agent", f"{FROZEN}::{name}", "--tasks", "Bandit10-v0",
                 "--seeds", "1", "--episodes", "3", "--out", str(out), "--jobs", "1",
                 "--quiet"])


def _record(out: Path, name: str) -> tuple[Path, dict]:
    path = next((out / name).rglob("seed-0.json*"))
    return path, store.read_result(path)


def test_a_run_records_the_frozen_state_before_and_after(tmp_path):
    assert _run("frozen-kept", tmp_path) == 0
    _, record = _record(tmp_path, "frozen-kept")
    assert record["result"]["frozen_state"] == {"before": "len-1", "after": "len-1"}


def test_a_run_that_changes_its_frozen_state_fails_and_says_so(tmp_path, capsys):
    assert _run("frozen-drifting", tmp_path) == 1
    _, record = _record(tmp_path, "frozen-drifting")
    assert record["status"] == "failed"
    found = re.search(r"changed its frozen state during the run \(before len-(\d+), after "
                      r"len-(\d+)\)", record["error"]["message"])
    assert found and int(found[2]) == int(found[1]) + 3  # one change per episode


def test_verify_refuses_a_certificate_edited_to_differ(tmp_path, capsys):
    assert _run("frozen-kept", tmp_path) == 0
    path, record = _record(tmp_path, "frozen-kept")
    assert main(["verify", "--results", str(tmp_path), "--submission", "frozen-kept",
                 "--agent", f"{FROZEN}::frozen-kept"]) == 0
    record["result"]["frozen_state"]["after"] = "len-2"
    text = json.dumps(record)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    assert main(["verify", "--results", str(tmp_path), "--submission", "frozen-kept",
                 "--agent", f"{FROZEN}::frozen-kept"]) == 1
    assert "frozen_state: stored before len-1 and after len-2 differ" in capsys.readouterr().err
