"""``build_leaderboard``: every table and figure, and the front page that links them.

Same results, same bytes: every bootstrap stream is keyed by (protocol, submission, ...),
tables are sorted, figures carry no timestamps.
"""

from __future__ import annotations

from pathlib import Path

from .. import scoring, store
from ..registry import Registry
from ..stamps import verification_status
from ..tasks import Task
from .entries import Entry, Ranked, best_baseline, make_entries, offline_size_iqms, rank_entries
from .heldout import rank_test, write_family_table, write_test_table
from .inputs import write_inputs_table
from .paper import load_paper_reference, write_paper_table
from .render import escape_markdown
from .results import Results, load_results
from .tables import (
    write_aggregates,
    write_front_table,
    write_offline_sizes_table,
    write_task_tables,
    write_threshold_table,
)

SUITE_TAG = "dev"
NUM_SEEDS = 10
"""Seeds 0..9 of every suite task: the grid of the committed reference results."""
PROTOCOLS = ("online", "offline")


def build_leaderboard(results_dir: Path, out_dir: Path, registry: Registry,
                      bootstrap: scoring.BootstrapConfig | None = None,
                      baselines: set[str] | None = None, suite_tag: str = SUITE_TAG,
                      seeds: int | None = None, test_suite: str | None = None,
                      instance_seed: int | None = None, instances: int | None = None) -> dict:
    """Regenerate every table and figure under ``out_dir`` from the result files under
    ``results_dir``, on the declared grid: seeds ``0..seeds-1`` of every task ``suite_tag``
    selects (default: the suite's declared seeds if it names a suite, else 10). An entry
    missing a run of the grid, or with a failed one, is listed as incomplete and not ranked;
    runs outside the grid are not used (except by the paper table, which takes every seed
    and is written only if the suite has a paper task).

    With ``test_suite`` (a suite of family instances, e.g. ``test``) the front page ranks on
    it first, with each submission's dev->test gap against ``suite_tag``, and per-family
    tables (``rlbench_icl.leaderboard.heldout``); ``instance_seed`` and ``instances``
    override the test suite's own (e.g. a new release's seed before it is declared).

    ``baselines`` names the submissions the P(> X) column may compare against (default:
    any not in ``NOT_BASELINES``). Returns ``{"refused": [(path, reason), ...]}`` plus, for
    each protocol with results, the ranked submission names, best first (``test online``
    and ``test offline`` for the test ranking).
    """
    seeds = _declared_seeds(registry, suite_tag, seeds)
    bootstrap = bootstrap or scoring.BootstrapConfig()
    results = load_results(Path(results_dir), registry)
    suite = registry.select(suite_tag)
    out = Path(out_dir)
    sections, summary = [], {"refused": results.refused}
    ranked_by: dict[str, list[Ranked]] = {}  # "<suite> <protocol>" -> ranked entries
    for protocol in PROTOCOLS:
        entries = make_entries(results, protocol, suite, seeds)
        if not entries:
            continue
        ranked = ranked_by[f"{suite_tag} {protocol}"] = rank_entries(entries, protocol,
                                                                     bootstrap)
        verified = _verified(results_dir, entries, protocol)
        sections += _write_protocol(out, protocol, entries, ranked, verified, suite,
                                    results.tasks, bootstrap, baselines)
        summary[protocol] = [r.entry.name for r in ranked]
    first = []
    if test_suite is not None:
        test = registry.select(test_suite, instance_seed, instances)
        first = _test_sections(out, results, registry, (test_suite, test), suite_tag,
                               bootstrap, baselines, summary, results_dir, ranked_by)
    sections = first + [s for s in [write_inputs_table(out, ranked_by, bootstrap)] if s] \
        + sections
    paper = _paper_section(out, results, suite, sections)
    text = front_page(sections, results, bootstrap, suite, suite_tag, paper,
                      _test_note(registry, test_suite, instance_seed, instances, suite_tag)
                      if test_suite else "")
    store.write_atomic(out / "README.md", text)
    return summary


def _paper_section(out: Path, results: Results, suite: list[str], sections: list[str]
                   ) -> bool:
    """Append the paper table's section if the suite has a paper task; whether it did."""
    reference = load_paper_reference()
    paper = any(task in suite for task in reference.tasks)
    if paper:
        sections.append(write_paper_table(out, results, reference))
    return paper


def _declared_seeds(registry: Registry, suite_tag: str, seeds: int | None) -> int:
    if seeds is None:
        suite = registry.suites.get(suite_tag)
        seeds = suite.seeds if suite is not None else NUM_SEEDS
    if seeds < 1:
        raise ValueError(f"the grid needs at least one seed, got seeds={seeds}")
    return seeds


def _verified(results_dir: Path, entries: list[Entry], protocol: str,
              tasks: list[str] | None = None) -> dict[str, str]:
    """Each entry's verification status on ``protocol`` (and ``tasks``, if given)."""
    wanted = None if tasks is None else set(tasks)
    return {e.name: verification_status(results_dir, e.name, protocol, wanted)
            for e in entries}


def _test_sections(out: Path, results: Results, registry: Registry,
                   test_suite: tuple[str, list[str]], dev_suite: str,
                   bootstrap: scoring.BootstrapConfig,
                   baselines: set[str] | None, summary: dict, results_dir: Path,
                   ranked_by: dict[str, list[Ranked]]) -> list[str]:
    """The test ranking and per-family tables of each protocol (see ``heldout``), with the
    gap from ``dev_suite``'s ranking in ``ranked_by``; the test rankings go there too."""
    name, suite = test_suite
    seeds = _declared_seeds(registry, name, None)
    sections = []
    for protocol in PROTOCOLS:
        entries = make_entries(results, protocol, suite, seeds)
        if not entries:
            continue
        ranked = ranked_by[f"{name} {protocol}"] = rank_test(entries, protocol,
                                                                   bootstrap)
        base = best_baseline(ranked, baselines)
        dev = {r.entry.name: r for r in ranked_by.get(f"{dev_suite} {protocol}", [])}
        sections.append(write_test_table(out, protocol, entries, ranked, dev, base, bootstrap,
                                         _verified(results_dir, entries, protocol, suite)))
        sections.append(write_family_table(out, protocol, ranked, bootstrap))
        summary[f"test {protocol}"] = [r.entry.name for r in ranked]
    return sections


def _write_protocol(out: Path, protocol: str, entries: list[Entry], ranked: list[Ranked],
                    verified: dict[str, str], suite: list[str], tasks: dict[str, Task],
                    bootstrap: scoring.BootstrapConfig, baselines: set[str] | None
                    ) -> list[str]:
    """One protocol's tables and figures; returns its sections of the front page."""
    from . import figures  # selects matplotlib's Agg backend: imported only to draw

    base = best_baseline(ranked, baselines)
    sections = [write_front_table(out, protocol, entries, ranked, base, bootstrap, verified)]
    write_task_tables(out, protocol, ranked, suite, bootstrap)
    write_aggregates(out, protocol, ranked)
    if protocol == "online":
        write_threshold_table(out, ranked, suite, tasks)
    figures.write_figures(out, protocol, ranked, bootstrap, tasks)
    if protocol == "offline" and ranked:
        sizes, iqms = offline_size_iqms(ranked, bootstrap)
        figures.plot_offline_sizes(out, ranked, sizes, iqms)
        sections.append(write_offline_sizes_table(out, ranked, sizes, iqms))
    return sections


def _test_note(registry: Registry, test_suite: str, instance_seed: int | None,
               instances: int | None, suite_tag: str) -> str:
    suite = registry.suites[test_suite]
    seed = suite.instance_seed if instance_seed is None else instance_seed
    count = suite.instances if instances is None else instances
    families = len(registry.select(test_suite, seed, count)) // max(count, 1)
    return (f"The first tables rank on the `{test_suite}` suite: {count} fresh "
            f"instances of each of {families} task families (instance seed "
            f"{seed}, rotated at each leaderboard release after the reference "
            f"models are frozen), seeds 0..{suite.seeds - 1}; nothing may be tuned on them. "
            f"\"dev→test gap\": IQM on the `{suite_tag}` suite minus IQM on test. The tables "
            f"after them are on the `{suite_tag}` suite.")


def front_page(sections: list[str], results: Results, bootstrap: scoring.BootstrapConfig,
               suite: list[str], suite_tag: str, paper: bool, test_note: str = "") -> str:
    """``README.md``: how the scores and intervals are made, the sections, links to every
    other file (to the paper table's CSV if ``paper``), and the refused result files."""
    count = sum(len(v) for v in results.records.values())
    lines = [
        "# rlbench-icl leaderboard", "",
        f"Generated by `rlbench-icl leaderboard` from {count} result files on the "
        f"`{suite_tag}` suite ({len(suite)} tasks). Scores are normalised: 1 = optimal, "
        "0 = uniform random, computed exactly from each task's known model. Intervals: "
        f"{bootstrap.method}, {bootstrap.resamples} resamples, seed {bootstrap.seed}, "
        f"{int(100 * bootstrap.confidence)}%. Ranked by IQM; a submission needs a successful "
        "run for every task and seed to be ranked. P(> X) is the probability of improvement "
        "over the best-ranked reference baseline X. \"verified\": how many of the "
        "submission's stored runs of that protocol `rlbench-icl verify` re-ran and found "
        "reproduced exactly "
        "(\"stale\" if a checked file changed since, \"no\" if never verified).", "",
        *([test_note, ""] if test_note else []),
        *sections,
        "## More", "",
        *(["- Test suite CSVs: ranking ([online](online_test_leaderboard.csv), "
           "[offline](offline_test_leaderboard.csv)), per family "
           "([online](online_test_families.csv), [offline](offline_test_families.csv)); "
           "the model against its inputs: [csv](model_vs_inputs.csv)."] if test_note else []),
        "- CSV of the tables above: [online](online_leaderboard.csv), "
        "[offline](offline_leaderboard.csv)"
        + (", [paper reproduction](paper_reproduction.csv)." if paper else "."),
        "- Per-task tables: [online](online_tasks.md) ([csv](online_tasks.csv)), "
        "[offline](offline_tasks.md) ([csv](offline_tasks.csv)); online episodes to "
        "threshold: [md](online_threshold.md) ([csv](online_threshold.csv)); aggregates: "
        "[online](online_aggregates.csv), [offline](offline_aggregates.csv).",
        "- Figures: performance profiles ([online](online_performance_profiles.png), "
        "[offline](offline_performance_profiles.png)), sample efficiency "
        "([returns](online_sample_efficiency.png), "
        "[exploitation policy](online_policy_curves.png)), probability of improvement "
        "([online](online_probability_of_improvement.png), "
        "[offline](offline_probability_of_improvement.png)), per task "
        "([online](online_per_task.png), [offline](offline_per_task.png)), "
        "[offline by dataset size](offline_by_dataset_size.png).", "",
    ]
    if results.refused:
        lines += ["## Refused result files", ""]
        lines += [f"- {escape_markdown(path)}: {escape_markdown(reason)}"
                  for path, reason in results.refused]
        lines.append("")
    return "\n".join(lines)
