"""The command line: ``rlbench-icl <command>``. The only module that parses arguments."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tabulate import tabulate

from .registry import TASK_PATH_ENV, TaskFileError, load_registry


def main(argv: Sequence[str] | None = None) -> int:
    parser = _make_parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except (TaskFileError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"rlbench-icl {args.command_name}: error: {message}", file=sys.stderr)
        return 2


def _make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlbench-icl",
        description="A benchmark for in-context RL on held-out tabular MDPs, exactly scored.")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    tasks = commands.add_parser(
        "tasks", help="list the task suite with exact optimal and random values",
        description="List registered tasks: size, horizon, episode budget, exact V*(mu0) "
                    "and V_rand(mu0), tags and digest prefix.")
    tasks.add_argument("--tasks", default="all", metavar="SELECTOR",
                       help="comma-separated task ids or tags (quick, full, paper, ...); "
                            "default: all")
    _add_task_path(tasks)
    tasks.set_defaults(command=cmd_tasks, command_name="tasks")
    return parser


def _add_task_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task-path", action="append", default=[], metavar="DIR",
                        help="an extra directory of task files (repeatable; also "
                             f"${TASK_PATH_ENV})")


def cmd_tasks(args: argparse.Namespace) -> int:
    registry = load_registry(args.task_path)
    rows = []
    for task_id in registry.select(args.tasks):
        task = registry.make(task_id)
        m, spec = task.mdp, task.spec
        rows.append([task_id, m.num_states, m.num_actions, m.horizon, m.discount,
                     spec.online_episodes, task.optimal_value, task.random_value,
                     " ".join(spec.tags), task.digest[:10]])
    headers = ["id", "S", "A", "H", "gamma", "episodes", "V*", "V_rand", "tags", "digest"]
    print(tabulate(rows, headers=headers, floatfmt=".4g"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
