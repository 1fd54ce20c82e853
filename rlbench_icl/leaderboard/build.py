"""``build_leaderboard``: every table and figure, the long scores table, the front page that
links them, and on request the static web site.

Same results, same bytes: every bootstrap stream is keyed by (protocol, submission, ...),
tables are sorted, figures carry no timestamps.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from .. import scoring, store
from ..registry import Registry
from ..stamps import verification_status
from .entries import (
    Entry,
    Ranking,
    best_baseline,
    improvements,
    make_entries,
    offline_size_iqms,
    rank_entries,
    threshold_episodes,
)
from .heldout import (
    family_means,
    family_size_iqms,
    rank_test,
    write_family_table,
    write_test_table,
)
from .inputs import write_ablation_table, write_inputs_table
from .long import long_scores, write_long_scores
from .paper import load_paper_reference, write_paper_table
from .render import escape_markdown
from .results import Results, load_results
from .tables import (
    gap_note,
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
FIGURES_DIR = "figures"


def build_leaderboard(results_dir: Path, out_dir: Path, registry: Registry,
                      bootstrap: scoring.BootstrapConfig | None = None,
                      baselines: set[str] | None = None, suite_tag: str = SUITE_TAG,
                      seeds: int | None = None, test_suite: str | None = None,
                      instance_seed: int | None = None, instances: int | None = None,
                      html_dir: Path | None = None, figures: bool = True,
                      progress: bool = False) -> dict:
    """Regenerate every table and figure under ``out_dir`` from the result files under
    ``results_dir``, on the declared grid: seeds ``0..seeds-1`` of every task ``suite_tag``
    selects (default: the suite's declared seeds if it names a suite, else 10). An entry
    missing a run of the grid, or with a failed one, is listed as incomplete and not ranked
    (its per-task scores are shown, marked, for what it ran); runs outside the grid are not
    used (except by the paper table, which takes every seed and is written only if the suite
    has a paper task, and by ``scores.csv``, which holds every accepted run).

    With ``test_suite`` (a suite of family instances, e.g. ``test``) the front page ranks on
    it first, with each submission's dev->test gap against ``suite_tag``, and per-family
    tables (``rlbench_icl.leaderboard.heldout``); ``instance_seed`` and ``instances``
    override the test suite's own (e.g. a new release's seed before it is declared).

    ``baselines`` names the submissions the P(> X) column may compare against (default:
    any not in ``NOT_BASELINES``). ``figures=False`` writes the tables alone; ``html_dir``
    also writes the static site there (``rlbench_icl.leaderboard.web``); ``progress`` shows
    a bar on stderr for each long step. Returns ``{"refused": [(path, reason), ...]}`` plus,
    for each protocol with results, the ranked submission names, best first (``test
    online`` and ``test offline`` for the test ranking).
    """
    suite, declared = registry.ranking_grid(suite_tag, NUM_SEEDS)
    seeds = declared if seeds is None else seeds
    if seeds < 1:
        raise ValueError(f"the grid needs at least one seed, got seeds={seeds}")
    bootstrap = bootstrap or scoring.BootstrapConfig()
    results = load_results(Path(results_dir), registry, progress=progress)
    out = Path(out_dir)
    test = None
    if test_suite is not None:
        test = (test_suite, *registry.ranking_grid(test_suite, NUM_SEEDS, instance_seed,
                                                   instances))
    rankings = _rankings(results, (suite_tag, suite, seeds), test, bootstrap, baselines,
                         progress)
    verified = {r.key: _verified(results_dir, r.entries, r.protocol,
                                 None if r.suite == "dev" else test[1]) for r in rankings}
    sections = _write_tables(out, rankings, verified, suite, results, bootstrap, progress)
    paper = _paper_section(out, results, suite, sections)
    write_long_scores(out, long_scores(results))
    specs = _write_figures(out, rankings, bootstrap, results, progress) if figures else []
    text = front_page(sections, results, bootstrap, suite, suite_tag, paper,
                      _test_note(registry, test_suite, instance_seed, instances, suite_tag)
                      if test_suite else "", [(s.stem, s.caption) for s in specs])
    store.write_atomic(out / "README.md", text)
    if html_dir is not None:
        from .web import Site, write_site

        write_site(Path(html_dir), out, Site(
            results, rankings, verified, [(s.stem, s.caption) for s in specs], bootstrap,
            _site_intro(results, bootstrap, suite_tag, len(suite), test_suite)), progress)
    summary: dict = {"refused": results.refused, "standings": [standings(r) for r in rankings]}
    for r in rankings:
        summary[r.protocol if r.suite == "dev" else f"test {r.protocol}"] = [
            x.entry.name for x in r.ranked]
    return summary


def standings(ranking: Ranking) -> dict:
    """One ranking as plain data (``leaderboard --json``): the ranked entries, best first,
    with their aggregates and P(> base) as [point, low, high], then the unranked ones with
    what keeps them off."""
    base = ranking.base.entry.name if ranking.base else None
    ranked = [{"rank": i, "submission": r.entry.name, "runs": int(r.matrix.size),
               **{k: [float(x) for x in v] for k, v in r.aggregates.items()},
               "probability_of_improvement": [float(x) for x in ranking.poi[r.entry.name]]
               if r.entry.name in ranking.poi else None}
              for i, r in enumerate(ranking.ranked, start=1)]
    unranked = [{"submission": e.name, "status": e.status, "note": gap_note(e)}
                for e in ranking.incomplete]
    return {"suite": ranking.suite, "selector": ranking.selector,
            "protocol": ranking.protocol, "baseline": base, "ranked": ranked,
            "unranked": unranked}


def _rankings(results: Results, dev: tuple[str, list[str], int],
              test: tuple[str, list[str], int] | None, bootstrap: scoring.BootstrapConfig,
              baselines: set[str] | None, progress: bool) -> list[Ranking]:
    """The dev rankings of each protocol with results, then the test ones; each grid is
    (selector, tasks, number of seeds)."""
    grids = [("dev", dev, rank_entries, "poi")]
    if test is not None:
        grids.append(("test", test, rank_test, "test-poi"))
    todo = [(role, selector, protocol, make_entries(results, protocol, tasks, num_seeds),
             rank, tag)
            for role, (selector, tasks, num_seeds), rank, tag in grids for protocol in PROTOCOLS]
    todo = [t for t in todo if t[3]]
    rankings = []
    for role, selector, protocol, entries, rank, tag in tqdm(
            todo, desc="bootstrap", unit="ranking", disable=not progress, leave=False):
        ranked = rank(entries, protocol, bootstrap)
        base = best_baseline(ranked, baselines)
        rankings.append(Ranking(role, selector, protocol, entries, ranked, base,
                                improvements(ranked, base, protocol, tag)))
    return rankings


def _write_tables(out: Path, rankings: list[Ranking], verified: dict[str, dict[str, str]],
                  suite: list[str], results: Results, bootstrap: scoring.BootstrapConfig,
                  progress: bool = False) -> list[str]:
    """Every table; returns the front page's sections: the test ones first, the model
    against its inputs, then the dev ones."""
    first, sections = [], []
    dev = {r.protocol: r for r in rankings if r.suite == "dev"}
    for r in tqdm(rankings, desc="tables", unit="ranking", disable=not progress, leave=False):
        if r.suite == "dev":
            sections += _write_protocol(out, r, verified[r.key], suite, results, bootstrap)
        else:
            dev_ranked = {x.entry.name: x for x in dev[r.protocol].ranked} \
                if r.protocol in dev else {}
            first.append(write_test_table(out, r.protocol, r.entries, r.ranked, dev_ranked,
                                          r.base, r.poi, verified[r.key]))
            first.append(write_family_table(out, r.protocol, r.ranked,
                                            family_means(r.ranked, r.protocol)))
            if r.protocol == "offline" and r.ranked:
                first.append(write_offline_sizes_table(
                    out, r.ranked, *family_size_iqms(r.ranked), suite="test"))
    by_where = {f"{r.selector} {r.protocol}": r.ranked for r in rankings}
    inputs = write_inputs_table(out, by_where)
    ablation = write_ablation_table(out, {f"{r.suite} {r.protocol}": r.ranked
                                          for r in rankings})
    return first + [s for s in [inputs, ablation] if s] + sections


def _write_figures(out: Path, rankings: list[Ranking], bootstrap: scoring.BootstrapConfig,
                   results: Results, progress: bool) -> list:
    """Every figure under ``figures/``; returns their specs."""
    from . import figures  # selects matplotlib's Agg backend: imported only to draw
    from .style import load_styles

    specs = figures.figure_specs(rankings, bootstrap, results.tasks, load_styles())
    written = set()
    for spec in tqdm(specs, desc="figures", unit="figure", disable=not progress, leave=False):
        written.update(spec.draw(out / FIGURES_DIR / spec.stem))
    for stale in sorted((out / FIGURES_DIR).glob("*")):
        if stale.suffix[1:] in figures.draw.FORMATS and stale not in written:
            stale.unlink()  # a figure of an earlier figure set
    return specs


def _paper_section(out: Path, results: Results, suite: list[str], sections: list[str]
                   ) -> bool:
    """Append the paper table's section if the suite has a paper task; whether it did."""
    reference = load_paper_reference()
    paper = any(task in suite for task in reference.tasks)
    if paper:
        sections.append(write_paper_table(out, results, reference))
    return paper


def _verified(results_dir: Path, entries: list[Entry], protocol: str,
              tasks: list[str] | None = None) -> dict[str, str]:
    """Each entry's verification status on ``protocol`` (and ``tasks``, if given)."""
    wanted = None if tasks is None else set(tasks)
    return {e.name: verification_status(results_dir, e.name, protocol, wanted)
            for e in entries}


def _write_protocol(out: Path, ranking: Ranking, verified: dict[str, str], suite: list[str],
                    results: Results, bootstrap: scoring.BootstrapConfig) -> list[str]:
    """One protocol's dev tables; returns its sections of the front page."""
    protocol, ranked = ranking.protocol, ranking.ranked
    sections = [write_front_table(out, protocol, ranking.entries, ranked, ranking.base,
                                  ranking.poi, verified)]
    write_task_tables(out, protocol, ranked, suite, bootstrap, ranking.incomplete)
    write_aggregates(out, protocol, ranked)
    if protocol == "online" and ranked:
        write_threshold_table(out, ranked, suite, {
            r.entry.name: threshold_episodes(r.entry, results.tasks) for r in ranked})
    if protocol == "offline" and ranked:
        sizes, iqms = offline_size_iqms(ranked, bootstrap)
        sections.append(write_offline_sizes_table(out, ranked, sizes, iqms))
    return sections


def _site_intro(results: Results, bootstrap: scoring.BootstrapConfig, suite_tag: str,
                num_tasks: int, test_suite: str | None) -> str:
    count = sum(len(v) for v in results.records.values())
    first = (f"The first tables rank on the {test_suite} suite (fresh family instances, "
             "nothing tuned on them; their intervals draw each family's instances whole, "
             "with all their seeds), the later ones on the " + suite_tag + " suite. "
             if test_suite else "")
    return (f"Generated from {count} result files; {suite_tag} suite: {num_tasks} tasks. "
            "Scores are normalised: 1 = optimal, 0 = uniform random, computed exactly from "
            f"each task's known model. {first}Intervals: {bootstrap.method}, "
            f"{bootstrap.resamples} resamples, {int(100 * bootstrap.confidence)}%. Ranked by "
            "IQM; a submission needs a successful run for every task and seed to be ranked; "
            "an incomplete one is listed, marked, with per-task scores for what it ran. "
            "Click a column to sort it; type in a box to filter its table.")


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
            "Their intervals draw each family's instances with replacement, each with all "
            "of its seeds: the instances are what the suite samples. "
            f"\"dev→test gap\": IQM on the `{suite_tag}` suite minus IQM on test. The tables "
            f"after them are on the `{suite_tag}` suite.")


def front_page(sections: list[str], results: Results, bootstrap: scoring.BootstrapConfig,
               suite: list[str], suite_tag: str, paper: bool, test_note: str = "",
               figures: list[tuple[str, str]] = ()) -> str:
    """``README.md``: how the scores and intervals are made, the sections, links to every
    other file (to the paper table's CSV if ``paper``; to ``figures``, (stem, caption)
    pairs, under ``figures/``), and the refused result files."""
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
           "the model against its inputs: [csv](model_vs_inputs.csv); the ablation table: "
           "[csv](ablation.csv)."] if test_note else []),
        "- CSV of the tables above: [online](online_leaderboard.csv), "
        "[offline](offline_leaderboard.csv)"
        + (", [paper reproduction](paper_reproduction.csv)." if paper else "."),
        "- Per-task tables: [online](online_tasks.md) ([csv](online_tasks.csv)), "
        "[offline](offline_tasks.md) ([csv](offline_tasks.csv)); online episodes to "
        "threshold: [md](online_threshold.md) ([csv](online_threshold.csv)); aggregates: "
        "[online](online_aggregates.csv), [offline](offline_aggregates.csv).",
        "- Every scored run, long format (one row per submission, protocol, task, seed and, "
        "offline, dataset size and behaviour): [scores.csv](scores.csv).",
        *([f"- Figures (PNG, PDF and SVG in `{FIGURES_DIR}/`):"] if figures else []),
        *[f"  - [{caption}]({FIGURES_DIR}/{stem}.png) ([pdf]({FIGURES_DIR}/{stem}.pdf), "
          f"[svg]({FIGURES_DIR}/{stem}.svg))" for stem, caption in figures],
        "",
    ]
    if results.refused:
        lines += ["## Refused result files", ""]
        lines += [f"- {escape_markdown(path)}: {escape_markdown(reason)}"
                  for path, reason in results.refused]
        lines.append("")
    return "\n".join(lines)
