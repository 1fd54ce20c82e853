"""The front-door documents name only paths that exist."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", "CONTRIBUTING.md", "CHANGELOG.md", "experiments/README.md",
        "submissions/gnn_fm_checkpoint/MODEL_CARD.md"]
TOP = ("rlbench_icl/", "submissions/", "tasks/", "benchmarks/", "experiments/",
       "leaderboard/", "tests/", ".ci/")


def named_paths(text: str) -> set[str]:
    """Repository paths written in backticks (or in a `python PATH` command)."""
    words = re.findall(r"`([^`\s<>*]+)`", text) + re.findall(r"python (\S+\.py)", text)
    return {w.rstrip(".,:;)") for w in words
            if w.startswith(TOP) or re.fullmatch(r"[A-Z_]+\.md", w)}


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_a_document_names_exists(doc):
    path = ROOT / doc
    if not path.exists():
        pytest.skip(f"{doc} does not exist")
    if doc == "CHANGELOG.md":  # history names old paths; only its first section is current
        text = path.read_text().split("\n## gnn-fm")[0]
    else:
        text = path.read_text()
    missing = sorted(p for p in named_paths(text) if not (ROOT / p).exists())
    assert not missing, f"{doc} names paths that do not exist: {missing}"


def test_the_path_finder_sees_paths():
    assert named_paths("see `rlbench_icl/fm/policy.py`, `x.py` and python benchmarks/b.py") \
        == {"rlbench_icl/fm/policy.py", "benchmarks/b.py"}
