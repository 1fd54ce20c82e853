"""The front-door documents name only paths that exist, and their agent examples run."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

import rlbench_icl as rl
from rlbench_icl.protocols import protocol_settings
from rlbench_icl.protocols.offline import protocol_datasets

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


def test_the_readme_sparse_example_plans_on_a_sparse_p_and_beats_random(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    example = re.search(r"<!-- sparse-example -->\n```python\n(.*?)```", text, re.S)[1]
    planned = []

    def spy(P, R, horizon, discount=1.0):
        planned.append(P)
        return rl.dynprog.backward_induction(P, R, horizon, discount)

    monkeypatch.setattr(rl, "backward_induction", spy)  # what the example imports
    namespace = {}
    exec(compile(example, "README.md sparse example", "exec"), namespace)
    tasks = "RiverSwim6-v0,PaperGrid5x5-v0"  # a finite-horizon task and a discounted one
    mine = rl.evaluate(namespace["SUBMISSION"], tasks=tasks, seeds=1, episodes=200,
                       out=tmp_path / "mine", progress=False)
    random = rl.evaluate("random", tasks=tasks, seeds=1, episodes=200, protocols=["online"],
                         in_process=True, out=tmp_path / "random", progress=False)
    assert mine.failed() == [] and len(mine) == 2
    assert planned and all(scipy.sparse.issparse(P) for P in planned)
    baseline = {r["task"]: r["score"] for r in random.rows}
    for row in mine.rows:
        assert row["score"] > baseline[row["task"]] + 0.5, row


def test_the_readme_dataset_table_gives_every_field_and_its_dtype():
    text = (ROOT / "README.md").read_text()
    table = text.split("The `Dataset` (")[1].split("\n\n")[1]
    rows = re.findall(r"^\| `(\w+)` \| (\w+)", table, re.M)
    assert [name for name, _ in rows] == [f.name for f in dataclasses.fields(rl.Dataset)]
    task = rl.default_registry().make("FrozenLake4x4-v0")
    _, _, dataset = next(protocol_datasets(task, protocol_settings(task, "offline"), seed=0))
    for name, dtype in rows:
        value = getattr(dataset, name)
        assert (value.dtype.name if isinstance(value, np.ndarray) else type(value).__name__
                ) == dtype, name


def test_the_readme_policy_rule_quotes_the_error_a_per_step_discounted_policy_gets():
    class PerStep:
        def __init__(self, info, rng):
            self.info = info

        def act(self, state, step):
            return 0

        def observe(self, *transition):
            pass

        def end_episode(self):
            pass

        def policy(self):
            i = self.info
            return np.full((i.horizon, i.num_states, i.num_actions), 1 / i.num_actions)

    text = " ".join((ROOT / "README.md").read_text().split())
    quoted = re.search(r"\.\.\. on (AgentCheck\S+: call policy.*?\]) ```", text)[1]
    with pytest.raises(rl.AgentCheckError) as error:
        rl.check_agent(rl.Submission(name="per-step", version="1", make_online_agent=PerStep))
    assert str(error.value).endswith(quoted)


MODEL_CARDS = ["submissions/gnn_fm_checkpoint/MODEL_CARD.md",
               "submissions/gnn_fm_paper_checkpoint/MODEL_CARD.md"]


def ablation_rows(text: str, start: str, end: str) -> list[str]:
    """The table lines between ``start`` and the next ``end`` in ``text``."""
    block = text[text.index(start):]
    return [line for line in block[:block.index(end, len(start))].splitlines()
            if line.startswith("|")]


@pytest.mark.parametrize("card", MODEL_CARDS)
def test_model_cards_show_the_leaderboards_ablation_table(card):
    """Issue 20 asks for one ablation table, on the leaderboard and in the model cards: the
    cards copy the leaderboard's, and a rebuilt leaderboard that moves a number fails here
    until the cards are updated."""
    board = ablation_rows((ROOT / "leaderboard/README.md").read_text(), "## Ablation", "\n## ")
    mine = ablation_rows((ROOT / card).read_text(), "<!-- ablation: leaderboard/README.md -->",
                         "<!-- /ablation -->")
    assert len(board) > 2 and mine == board, f"paste the leaderboard's ablation table into {card}"


def _rows(name: str) -> list[dict]:
    import csv
    return list(csv.DictReader((ROOT / "leaderboard" / name).open()))


def _ci(row: dict, column: str) -> str:
    """``column`` of a leaderboard CSV row as "p [low, high]", 3 decimals."""
    p, low, high = (float(row[f"{column}{end}"]) for end in ("", " low", " high"))
    return f"{p:.3f} [{low:.3f}, {high:.3f}]"


@pytest.mark.parametrize("protocol, baseline", [("online", "ucbvi"), ("offline", "vi-lcb")])
def test_gnn_fms_card_opens_with_the_leaderboards_test_numbers(protocol, baseline):
    """The first table of gnn-fm's model card, rebuilt from the committed leaderboard CSVs:
    a leaderboard rebuild that moves a number fails here until the card follows."""
    board = {r["submission"]: r for r in _rows(f"{protocol}_test_leaderboard.csv")}
    pair = next(r for r in _rows("model_vs_inputs.csv") if r["model"] == "gnn-fm"
                and r["suite, protocol"] == f"test {protocol}")
    fm = board["gnn-fm"]
    expected = (f"| {protocol} | {float(fm['test IQM']):.3f} | "
                f"{float(board['rmax-plan']['test IQM']):.3f} | "
                f"{_ci(pair, 'P(model > inputs)')} | "
                f"{float(board[baseline]['test IQM']):.3f} | {_ci(fm, f'P(> {baseline})')} |")
    card = (ROOT / "submissions/gnn_fm_checkpoint/MODEL_CARD.md").read_text()
    assert expected in card, f"gnn-fm's model card should open with: {expected}"


def _commands(parser, prefix=""):
    """(command, its long options) for every subcommand of the rlbench-icl parser."""
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{prefix} {name}".strip())
            return
    yield prefix, [o for a in parser._actions for o in a.option_strings
                   if o.startswith("--") and o != "--help"]


def test_the_readmes_command_table_gives_every_option_of_every_command():
    from rlbench_icl.cli import _make_parser

    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        match = re.match(r"\| `rlbench-icl ([a-z-]+(?: [a-z]+)?)[ `]", line)
        if match:
            rows[match[1]] = line.split("` |")[0]
    for command, options in _commands(_make_parser()):
        assert command in rows, f"README's command table has no row for {command}"
        missing = [o for o in options if not re.search(rf"{o}\b(?!-)", rows[command])]
        assert not missing, f"README's row for {command} lacks {missing}"


def test_every_option_of_every_command_has_help():
    from rlbench_icl.cli import _make_parser

    def undocumented(parser):
        for action in parser._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for name, sub in action.choices.items():
                    yield from (f"{name} {o}" for o in undocumented(sub))
            elif action.option_strings and not action.help:
                yield action.option_strings[-1]

    assert list(undocumented(_make_parser())) == []


def test_runs_timeout_help_states_the_default_the_planner_uses(capsys):
    from rlbench_icl.cli import main
    from rlbench_icl.runner.plan import TIMEOUT_BASE, TIMEOUT_PER_STEP

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (f"default: {TIMEOUT_BASE:g} s plus {1000 * TIMEOUT_PER_STEP:g} ms per step of the "
            "run's budget") in text
