"""The command line: ``rlbench-icl <command>``. The only module that parses arguments."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ._version import __version__
from .backends import BACKENDS
from .errors import (
    BackendError,
    MissingExtraError,
    OutputError,
    ResultFileError,
    RlbenchIclError,
    SubmissionError,
)
from .protocols import PROTOCOLS
from .registry import TASK_PATH_ENV, load_registry
from .store import make_dirs, remove_empty

COMMITTED_RESULTS = Path("leaderboard/results")
"""The default of --results (and of pack's --out): the committed reference results,
relative to the repository's root."""


_MADE: list[Path] = []
"""Directories ``writable_dir`` made for the running command: if it fails, those left empty
are removed, so a mistake leaves nothing behind."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _make_parser()
    args = parser.parse_args(argv)
    _MADE.clear()
    code = _run(args)
    if code != 0:
        remove_empty(_MADE)
    return code


def _run(args: argparse.Namespace) -> int:
    """The command's exit status; a failure the user can act on is one line on stderr."""
    try:
        return args.command(args)
    except BrokenPipeError:  # the reader (e.g. `head`) stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except RlbenchIclError as exc:
        print(f"rlbench-icl {args.command_name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C: say what is kept, not a traceback
        print(f"rlbench-icl {args.command_name}: {str(exc) or 'interrupted'}", file=sys.stderr)
        return 130
    except OSError as exc:  # the machine's, not the input's: a full disk, a lost mount
        print(f"rlbench-icl {args.command_name}: error: {exc}", file=sys.stderr)
        return 1


# Each command imports what it needs when it runs (tabulate, joblib, the runner, the
# submissions), so that ``--help`` and a mistyped option answer at once.


def _make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlbench-icl",
        description="A benchmark for in-context RL on held-out tabular MDPs, exactly scored.")
    parser.add_argument("--version", action="version", version=f"rlbench-icl {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    _add_tasks_parser(commands)
    _add_run_parser(commands)
    _add_agents_parser(commands)
    _add_leaderboard_parser(commands)
    _add_pack_parser(commands)
    _add_train_fm_parser(commands)
    _add_verify_parser(commands)
    _add_keys_parser(commands)
    _add_datasets_parser(commands)
    return parser


def _add_tasks_parser(commands) -> None:
    tasks = commands.add_parser(
        "tasks", help="list the task suite with exact optimal and random values",
        description="List registered tasks: size, horizon, episode budget, exact V*(mu0) "
                    "and V_rand(mu0), tags and digest prefix.")
    _add_json(tasks, "a list of tasks with their exact values and full digests")
    tasks.add_argument("--tasks", default="all", metavar="SELECTOR",
                       help="comma-separated task ids, suites (dev, test), families or "
                            "tags (quick, full, paper, ...); default: all (the fixed tasks)")
    _add_instances(tasks)
    _add_task_path(tasks)
    tasks.set_defaults(command=cmd_tasks, command_name="tasks")


def _add_agents_parser(commands) -> None:
    agents = commands.add_parser(
        "agents", help="list the available submissions",
        description="List submissions found in submissions/ and installed entry points.")
    _add_json(agents, "the submissions' metadata")
    agents.set_defaults(command=cmd_agents, command_name="agents")


def _add_leaderboard_parser(commands) -> None:
    board = commands.add_parser(
        "leaderboard", help="regenerate the leaderboard from stored results",
        description="Rebuild every table and figure of the leaderboard from result files "
                    "(figures as PNG, PDF and SVG under OUT/figures/, every scored run in "
                    "OUT/scores.csv), and with --html a static web site. Same results give "
                    "the same bytes.")
    board.add_argument("--results", type=Path, default=COMMITTED_RESULTS,
                       help="results directory (default: leaderboard/results)")
    board.add_argument("--out", type=Path, default=Path("leaderboard"),
                       help="output directory (default: leaderboard/)")
    board.add_argument("--resamples", type=_positive_int, default=2000,
                       help="bootstrap resamples (default: 2000)")
    board.add_argument("--suite", default=None, metavar="SELECTOR",
                       help="the suite the dev tables rank on: a suite, tag or ids "
                            "(default: dev)")
    board.add_argument("--seeds", type=_positive_int, default=None, metavar="N",
                       help="rank on seeds 0..N-1 of every suite task; a submission missing "
                            "any of these runs is listed as incomplete, not ranked; seeds >= "
                            "N are ignored (default: the suite's declared seeds, or 10)")
    board.add_argument("--test", default="test", metavar="SUITE",
                       help="rank first on this suite of family instances, with each "
                            "submission's gap from --suite and per-family tables (default: "
                            "test; '' for none)")
    board.add_argument("--html", type=Path, default=None, metavar="DIR",
                       help="also write a self-contained static web site into DIR (no "
                            "network needed; DIR may be OUT itself; default: no site)")
    board.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_json(board, "the rankings (aggregates with their CIs) and refused files")
    _add_instances(board)
    _add_task_path(board)
    board.set_defaults(command=cmd_leaderboard, command_name="leaderboard")


def _add_pack_parser(commands) -> None:
    pack = commands.add_parser(
        "pack", help="gzip result files for committing (the leaderboard reads both)",
        description="Copy every result file of --results into --out as .json.gz.")
    pack.add_argument("--results", type=Path, required=True,
                      help="the results directory to pack (required)")
    pack.add_argument("--out", type=Path, default=COMMITTED_RESULTS,
                      help="where to put the packed files (default: leaderboard/results, "
                           "the committed reference results)")
    pack.add_argument("--force", action="store_true",
                      help="replace files under --out that differ (default: refuse, write "
                           "nothing)")
    pack.set_defaults(command=cmd_pack, command_name="pack")


def _add_train_fm_parser(commands) -> None:
    train = commands.add_parser(
        "train-fm", help="train the foundation model on the synthetic prior",
        description="Train (or resume) the in-context policy network on synthetic MDPs. "
                    "Re-running the same command resumes from OUT/checkpoint.pt.")
    train.add_argument("--config", type=Path, required=True, help="a training TOML file")
    train.add_argument("--out", type=Path, required=True, help="training directory")
    train.add_argument("--seed", type=int, default=0,
                       help="seed of the synthetic MDPs, batches and initial weights "
                            "(default: 0)")
    train.add_argument("--stop-after", type=_positive_int, default=None, metavar="STEPS",
                       help="run at most STEPS steps now (resume later with the same command)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(command=cmd_train_fm, command_name="train-fm")


def _add_verify_parser(commands) -> None:
    verify = commands.add_parser(
        "verify", help="re-run a sample of stored runs and check they reproduce exactly",
        description="Re-run a seeded random sample of each submission's stored runs and "
                    "compare the records with the stored files. Writes "
                    "RESULTS/<submission>/verified.json, shown by the leaderboard. Exits 1 "
                    "if any file is not reproduced.")
    verify.add_argument("--results", type=Path, default=COMMITTED_RESULTS,
                        help="results directory (default: leaderboard/results)")
    verify.add_argument("--submission", action="append", default=None, metavar="NAME",
                        help="verify this submission (repeatable; default: every one)")
    verify.add_argument("--agent", default=None,
                        help="where to load the submission from, if not by its name "
                             "(needs exactly one --submission)")
    verify.add_argument("--sample", type=_positive_int, default=10,
                        help="runs to re-run per submission (default: 10)")
    verify.add_argument("--all", action="store_true", help="re-run every stored run")
    verify.add_argument("--seed", type=int, default=0, help="seed of the sample (default: 0)")
    verify.add_argument("--jobs", type=_positive_int, default=os.cpu_count() or 1,
                        help="parallel worker processes (default: all cores)")
    verify.add_argument("--tasks", default=None, metavar="SELECTOR",
                        help="sample only runs of these tasks, suites (dev, test), families "
                             "or tags (default: every stored run)")
    verify.add_argument("--sign", type=Path, default=None, metavar="KEYFILE",
                        help="sign the stamp with this private key (`rlbench-icl keys new`); "
                             "the leaderboard counts only stamps signed by a key in keys/ "
                             "beside the results directory")
    _add_instances(verify)
    _add_task_path(verify)
    verify.set_defaults(command=cmd_verify, command_name="verify")


def _add_keys_parser(commands) -> None:
    keys = commands.add_parser(
        "keys", help="make a key pair for signing verification stamps",
        description="Write a new Ed25519 private key to FILE (readable by you only) and its "
                    "public key to FILE.pub. Commit the .pub file under leaderboard/keys/; "
                    "never commit the private key.")
    actions = keys.add_subparsers(title="actions", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="write a new key pair")
    new.add_argument("file", type=Path, help="where to write the private key")
    new.set_defaults(command=cmd_keys_new, command_name="keys new")


def cmd_keys_new(args: argparse.Namespace) -> int:
    from .stamps import key_id, load_private_key, new_key

    public = new_key(args.file)
    print(f"wrote {args.file} (private: keep it off the repository) and {public} "
          f"(key id {key_id(load_private_key(args.file).public_key())}): commit it under "
          "leaderboard/keys/")
    return 0


def _add_datasets_parser(commands) -> None:
    datasets = commands.add_parser(
        "datasets", help="export the offline protocol's datasets",
        description="The datasets the offline protocol scores, exactly as agents receive them.")
    actions = datasets.add_subparsers(title="actions", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="write one run's datasets as .npz or as Minari datasets",
        description="Write every (epsilon, size) dataset of the offline run (task, seed), "
                    "byte for byte what the agent receives, with the task's declared "
                    "settings. Read them back with rlbench_icl.datasets.load_datasets.")
    export.add_argument("--task", required=True, metavar="SELECTOR",
                        help="one task: a task id, an instance id (Maze-v0-s7-i3), or a "
                             "family with --instance-seed and --instances 1")
    export.add_argument("--seed", type=_non_negative_int, default=0,
                        help="the run's seed (default: 0)")
    export.add_argument("--format", choices=("npz", "minari"), default="npz",
                        help="npz: one file (default); minari: one Minari dataset per cell "
                             "(needs the minari extra)")
    export.add_argument("--out", type=Path, required=True,
                        help="npz: the file to write; minari: a Minari datasets root, written "
                             "under rlbench-icl/<task id>/seed-<seed>/")
    _add_instances(export)
    _add_task_path(export)
    export.set_defaults(command=cmd_datasets_export, command_name="datasets export")


def _add_run_parser(commands) -> None:
    run = commands.add_parser(
        "run", help="run a submission on tasks and store one result file per run",
        description="Run a submission on a grid of tasks x protocols x seeds. Finished runs "
                    "already stored are skipped (use --force to re-run them).")
    run.add_argument("--agent", required=True,
                     help="a submission name, a path to a .py file, or package.module:attr")
    run.add_argument("--tasks", default="quick", metavar="SELECTOR",
                     help="comma-separated task ids, suites (dev, test), families or tags "
                          "(default: quick)")
    run.add_argument("--protocol", choices=[*PROTOCOLS, "both"], default="both",
                     help="protocols to run (default: both, as far as the agent supports)")
    run.add_argument("--seeds", type=_positive_int, default=5,
                     help="number of seeds 0..N-1 (default: 5)")
    run.add_argument("--episodes", type=_positive_int, default=None,
                     help="override every task's online episode budget K")
    run.add_argument("--jobs", type=_positive_int, default=os.cpu_count() or 1,
                     help="parallel worker processes (default: all cores)")
    run.add_argument("--out", type=Path, default=Path("results"),
                     help="results directory (default: results/)")
    run.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                     help="wall-clock limit per run; a slower run is recorded as failed "
                          "(default: 120 s plus 10 ms per step of the run's budget)")
    run.add_argument("--backend", choices=BACKENDS, default="loky",
                     help="loky: local processes (default); dask or ray: a cluster")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="dask scheduler (tcp://host:8786) or ray address; without it dask "
                          "starts a local cluster of --jobs workers")
    run.add_argument("--force", action="store_true", help="re-run runs already stored")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_isolation(run)
    run.add_argument("--memory-budget", type=_positive_float, default=None, metavar="GIB",
                     help="refuse, before running, a task whose runs would need more than "
                          "this for the harness (default: half of this machine's memory)")
    _add_json(run, "the runs' counts, per-task means, IQMs and failures")
    _add_instances(run)
    _add_task_path(run)
    run.set_defaults(command=cmd_run, command_name="run")


def _int_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def writable_dir(path: Path) -> Path:
    """``path``, created if needed, once a file could be written into it; else
    ``OutputError`` in one line."""
    try:
        _MADE.extend(make_dirs(path))
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(f"cannot write into {path}: {reason}") from None
    return path


def _add_instances(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instance-seed", type=_non_negative_int, default=None, metavar="N",
                        help="draw family instances from this seed (default: the suite's; "
                             "0 for families named directly)")
    parser.add_argument("--instances", type=_non_negative_int, default=None, metavar="K",
                        help="instances per family (default: the suite's; needed for "
                             "families named directly)")


def _add_task_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task-path", action="append", default=[], metavar="DIR",
                        help="an extra directory of task files (repeatable; also "
                             f"${TASK_PATH_ENV})")


def cmd_tasks(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    registry = load_registry(args.task_path)
    tasks = [_task_fields(registry.make(task_id))
             for task_id in registry.select_some(args.tasks, args.instance_seed, args.instances)]
    if args.json:
        return _print_json(tasks)
    rows = [[t["id"], t["num_states"], t["num_actions"], t["horizon"], t["discount"],
             t["online_episodes"], t["optimal_value"], t["random_value"], " ".join(t["tags"]),
             t["digest"][:10]] for t in tasks]
    headers = ["id", "S", "A", "H", "gamma", "episodes", "V*", "V_rand", "tags", "digest"]
    print(tabulate(rows, headers=headers, floatfmt=".4g"))
    return 0


def _task_fields(task) -> dict:
    m, spec = task.mdp, task.spec
    return {"id": task.id, "version": spec.version, "num_states": m.num_states,
            "num_actions": m.num_actions, "horizon": m.horizon, "discount": m.discount,
            "objective": m.objective, "online_episodes": spec.online_episodes,
            "optimal_value": task.optimal_value, "random_value": task.random_value,
            "tags": list(spec.tags), "digest": task.digest}


def _add_isolation(parser: argparse.ArgumentParser) -> None:
    from .sealed import DEFAULT_MEMORY

    parser.add_argument("--in-process", action="store_true",
                        help="run the agent in the harness's processes: faster to start, for "
                             "development; the leaderboard ranks only sealed runs "
                             "(the default: each agent in a process of its own)")
    parser.add_argument("--memory", type=_gibibytes, default=DEFAULT_MEMORY, metavar="GIB",
                        help=f"address-space limit of a sealed agent process, in GiB "
                             f"(default: {DEFAULT_MEMORY / 2**30:g}; 0: no limit)")


def _gibibytes(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of GiB, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return int(value * 2**30) or None


def _add_json(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true",
                        help=f"print {what} as JSON on stdout instead of a table")


def _print_json(data) -> int:
    print(json.dumps(data, indent=2, sort_keys=True, allow_nan=False))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .backends import execution_backend
    from .runner import run_grid

    registry = load_registry(args.task_path)
    task_ids = registry.select_some(args.tasks, args.instance_seed, args.instances)
    if args.scheduler and args.backend == "loky":
        raise BackendError("--scheduler needs --backend dask or ray")
    writable_dir(args.out)  # before minutes of checks and runs
    runs, name, protocols = _planned_runs(args, registry, task_ids)
    if not args.quiet and not args.json:
        print(_limits_note(runs, args), file=sys.stderr)
    with execution_backend(args.backend, args.jobs, args.scheduler):
        report = run_grid(runs, args.out, jobs=args.jobs, force=args.force,
                          progress=not args.quiet,
                          isolate=args.backend != "loky" and bool(args.in_process))
    _print_run_summary(args, report, registry, name, protocols)
    return 1 if report.failed else 0


def _planned_runs(args: argparse.Namespace, registry, task_ids) -> tuple[list, str, tuple]:
    """The grid's runs, once the submission has passed the contract check on small MDPs:
    (runs, the submission's name, the protocols it plays of those asked)."""
    from .conformance import check_agent
    from .discovery import reference, submission_code
    from .runner import plan_runs
    from .runner.plan import TIMEOUT_BASE
    from .sealed import Limits, opened_submission

    ref = reference(args.agent)
    isolation = "in-process" if args.in_process else "sealed"
    limits = Limits(wall_seconds=TIMEOUT_BASE, memory_bytes=args.memory)
    with opened_submission(ref, args.in_process, limits) as submission:
        wanted = PROTOCOLS if args.protocol == "both" else (args.protocol,)
        protocols = tuple(p for p in wanted if p in submission.protocols)
        if not protocols:
            raise SubmissionError(f"{submission.name} supports only "
                                  f"{' and '.join(submission.protocols)}, not {args.protocol}")
        if not args.quiet and not args.json:
            print(f"checking {submission.name} against the contract on small MDPs ...",
                  file=sys.stderr, flush=True)
        check_agent(submission, protocols)
        runs = plan_runs(ref, submission, registry, task_ids, protocols, range(args.seeds),
                         args.episodes, [str(Path(p).resolve()) for p in args.task_path],
                         args.timeout, isolation, args.memory, submission_code(ref, submission),
                         None if args.memory_budget is None else int(args.memory_budget * 2**30))
        return runs, submission.name, protocols


def _print_run_summary(args: argparse.Namespace, report, registry, name: str,
                       protocols: tuple) -> None:
    """The per-task table and IQM (or JSON), what a ranking still needs, and the first
    failure with where its traceback is stored."""
    from tabulate import tabulate

    from . import store
    from .runner import summary_rows
    from .runner.summary import missing_for_ranking

    rows, iqm = summary_rows(report.records)
    missing = [] if args.episodes is not None else missing_for_ranking(
        registry, args.out, name, protocols)
    if args.json:
        _print_json({**_run_summary(report, rows, iqm, args.out),
                     "missing_for_ranking": missing})
    else:
        print(tabulate(rows, headers=["protocol", "task", "runs", "failed", "mean score",
                                      "s.e."], floatfmt=".3f"))
        for protocol, value in iqm.items():
            print(f"{protocol} IQM over all runs: {value:.3f}")
        for m in missing:
            print(f"for a ranking on {m['suite']} ({m['protocol']}): {m['missing']} of "
                  f"{m['of']} runs missing in {args.out}/ (e.g. {m['example']}); add them "
                  f"with: rlbench-icl run --agent {args.agent} {m['command']}")
        print(f"{report.executed} runs executed, {report.skipped} reused from {args.out}/")
    if report.failed:
        first = report.failed[0]
        path = store.result_path(args.out, first["submission"]["name"], first["protocol"],
                                 first["task"]["id"], first["seed"])
        print(f"{len(report.failed)} runs failed, e.g. {first['error']['message']} (its "
              f"traceback is stored in {path}, under error.traceback)", file=sys.stderr)


def _limits_note(runs, args) -> str:
    """One line on the limits each run has, so that nobody meets them by surprise."""
    from .runner.plan import TIMEOUT_BASE, TIMEOUT_PER_STEP

    longest = max(runs, key=lambda r: r.timeout or 0.0, default=None)
    timeout = (f"--timeout {args.timeout:g} s per run" if args.timeout else
               f"time limit per run {TIMEOUT_BASE:g} s + {1000 * TIMEOUT_PER_STEP:g} ms per "
               f"step of its budget (longest: {longest.task['id']} {longest.protocol}, "
               f"{longest.timeout:,.0f} s)" if longest else "no runs")
    if args.in_process:
        return f"in-process runs (the leaderboard ranks sealed runs only); {timeout}"
    memory = f"{args.memory / 2**30:g} GiB" if args.memory else "no limit"
    return f"sealed runs: each agent in its own process, memory {memory}; {timeout}"


def _run_summary(report, rows: list[list], iqm: dict[str, float], out: Path) -> dict:
    """``run --json``: NaN means of cells with no successful run become null."""
    keys = ("protocol", "task", "runs", "failed", "mean_score", "standard_error")
    cells = [{k: (None if isinstance(v, float) and v != v else v) for k, v in zip(keys, row,
                                                                                strict=True)}
             for row in rows]
    return {"results": str(out), "executed": report.executed, "reused": report.skipped,
            "cells": cells, "iqm": iqm,
            "failed": [r["error"]["message"] for r in report.failed]}


def existing_results(path: Path, flag: str) -> None:
    """A clear error unless ``path`` is a results directory; for the default, say that it
    is relative to the repository's root."""
    if path.is_dir():
        return
    where = ""
    if path == COMMITTED_RESULTS:
        where = (f" in {Path.cwd()}: the default is the committed reference results, relative "
                 f"to the root of your rlbench-icl checkout; run from there or pass {flag} DIR")
    raise ResultFileError(f"results directory {path} does not exist{where}")


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from .leaderboard import build_leaderboard
    from .scoring import BootstrapConfig

    registry = load_registry(args.task_path)
    existing_results(args.results, "--results")
    figures = _installed("matplotlib")
    if not figures:
        print("matplotlib is not installed: writing the tables and the site without figures "
              "(add them with pip install -e '.[plots]')", file=sys.stderr)
    summary = build_leaderboard(args.results, writable_dir(args.out), registry,
                                BootstrapConfig(resamples=args.resamples),
                                seeds=args.seeds, test_suite=args.test or None,
                                **({} if args.suite is None else {"suite_tag": args.suite}),
                                instance_seed=args.instance_seed, instances=args.instances,
                                html_dir=None if args.html is None else writable_dir(args.html),
                                figures=figures, progress=not (args.quiet or args.json))
    if args.json:
        return _print_json({"standings": summary["standings"], "out": str(args.out),
                            "refused": [{"path": p, "reason": r} for p, r in summary["refused"]]})
    for protocol in ("test online", "test offline", "online", "offline"):
        if protocol in summary:
            print(f"{protocol}: {', '.join(summary[protocol]) or 'no complete submission'}")
    for path, reason in summary["refused"]:
        print(f"refused {path}: {reason}", file=sys.stderr)
    print(f"wrote {args.out / 'README.md'}")
    if args.html is not None:
        print(f"wrote {args.html / 'index.html'}")
    return 0


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a finder that refuses it
        return False


def cmd_pack(args: argparse.Namespace) -> int:
    from .store import pack

    if args.out == COMMITTED_RESULTS:  # a new directory only when named: a pack run
        existing_results(args.out, "--out")  # elsewhere once made a stray leaderboard/
    written, same = pack(args.results, args.out, args.force)
    print(f"packed {written} files into {args.out} ({same} already there)")
    return 0


def cmd_train_fm(args: argparse.Namespace) -> int:
    from .discovery import EXTRAS

    try:
        from .fm.train import load_config, train
    except ModuleNotFoundError as exc:
        if exc.name not in EXTRAS:
            raise
        raise MissingExtraError(f"train-fm needs {exc.name}: install it with "
                                f"pip install -e '.[{EXTRAS[exc.name]}]'") from None

    config = load_config(args.config)
    metrics = train(config, args.seed, writable_dir(args.out), progress=not args.quiet,
                    stop_after=args.stop_after)
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from .stamps import load_private_key, write_stamp
    from .verify import verify_submission

    existing_results(args.results, "--results")
    names = args.submission or sorted(p.name for p in args.results.iterdir() if p.is_dir())
    if args.agent and len(names) != 1:
        raise SubmissionError("--agent needs exactly one --submission")
    if args.sign is not None:
        load_private_key(args.sign)  # a bad key file says so before minutes of re-runs
    tasks = None if args.tasks is None else load_registry(args.task_path).select_some(
        args.tasks, args.instance_seed, args.instances)
    rows, failed, unloadable = [], 0, 0
    for name in names:
        try:
            checked = verify_submission(args.results, name, None if args.all else args.sample,
                                         args.seed, args.agent, args.jobs,
                                         [str(Path(p).resolve()) for p in args.task_path],
                                         tasks)
        except SubmissionError as exc:  # one unknown submission does not stop the others
            print(f"cannot verify {name}: {exc} (tell where it is with --submission {name} "
                  "--agent REF)", file=sys.stderr)
            rows.append([name, 0, 0, "not loaded"])
            unloadable += 1
            continue
        verdicts = checked.verdicts
        if len(checked.stored_code) > 1:
            print(f"{name}: its stored runs come from {len(checked.stored_code)} code "
                  "hashes: " + ", ".join(f"{sha[:12]} ({count} runs)" for sha, count
                                        in checked.stored_code.items())
                  + f"; the code now is {checked.code_sha256[:12]}", file=sys.stderr)
        write_stamp(args.results, name, verdicts, args.seed, checked.code_sha256, args.sign)
        bad = [v for v in verdicts if v.problem]
        failed += len(bad)
        rows.append([name, len(verdicts), len(verdicts) - len(bad), len(bad)])
        for v in bad:
            print(f"NOT REPRODUCED {v.path}: {v.problem}", file=sys.stderr)
    print(tabulate(rows, headers=["submission", "checked", "reproduced", "differ"]))
    return 1 if failed else (2 if unloadable else 0)


def cmd_datasets_export(args: argparse.Namespace) -> int:
    from .datasets import ExportError, export_minari, export_npz

    registry = load_registry(args.task_path)
    task_ids = registry.select(args.task, args.instance_seed, args.instances)
    if len(task_ids) != 1:
        raise ExportError(f"--task {args.task} selects {len(task_ids)} tasks "
                          f"({', '.join(task_ids[:3])}{', ...' if len(task_ids) > 3 else ''}): "
                          "export one at a time")
    task = registry.make(task_ids[0])
    if args.format == "npz":
        if args.out.is_dir():
            raise OutputError(f"--out {args.out} is a directory; give the .npz file to write")
        print(f"wrote {export_npz(task, args.seed, args.out)}: the offline datasets of "
              f"{task.id}, seed {args.seed}")
        return 0
    ids = export_minari(task, args.seed, writable_dir(args.out))
    print(f"wrote {len(ids)} Minari datasets under {args.out}; with "
          f"MINARI_DATASETS_PATH={args.out}, minari.load_dataset() reads:")
    print("\n".join(f"  {dataset_id}" for dataset_id in ids))
    return 0


def cmd_agents(args: argparse.Namespace) -> int:
    """Lists every submission, so it imports them all (in this process: nothing here scores
    or verifies); one that cannot load is named with the reason, once per file."""
    from tabulate import tabulate

    from .discovery import available, load

    loaded, reasons = [], {}
    for name, ref in sorted(available().items()):
        try:
            loaded.append((name, ref, load(ref)))
        except RlbenchIclError as exc:
            reasons.setdefault(ref.partition("::")[0], str(exc))
    if args.json:
        _print_json([{**s.metadata(), "ref": ref} for _, ref, s in loaded])
    else:
        rows = [[name, s.version, ", ".join(s.protocols), s.description]
                for name, _, s in loaded]
        print(tabulate(rows, headers=["submission", "version", "protocols", "description"],
                       disable_numparse=True))
    for reason in reasons.values():
        print(f"not loaded: {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
