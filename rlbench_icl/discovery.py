"""Finding submissions: ``--agent X`` resolves, in this order, to

1. ``path/to/file.py`` (or ``path/to/file.py::name`` when a file declares several);
2. ``package.module:attribute``, an importable ``Submission`` or a function returning one;
3. a submission name declared by a file in ``submissions/``;
4. an installed package's entry point in the group ``rlbench_icl.submissions``.

A submission file declares ``SUBMISSION = Submission(...)``, or ``SUBMISSIONS = [...]`` for
named variants. Every resolved submission gets a canonical reference string that worker
processes resolve again, so nothing needs pickling.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import sys
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from .contract import Submission
from .errors import MissingExtraError, SubmissionError

SUBMISSIONS_DIR = Path(__file__).resolve().parent.parent / "submissions"
ENTRY_POINT_GROUP = "rlbench_icl.submissions"
EXTRAS = {"torch": "fm", "safetensors": "fm"}
"""Optional dependencies and the extra that installs them."""


def resolve(agent: str, directory: Path = SUBMISSIONS_DIR) -> tuple[str, Submission]:
    """``(reference, submission)`` for an ``--agent`` argument (see the module docstring)."""
    if agent.endswith(".py") or ".py::" in agent:
        path, _, name = agent.partition("::")
        ref = f"{Path(path).resolve()}::{name}" if name else str(Path(path).resolve())
        return ref, load(ref)
    if ":" in agent:
        return agent, load(agent)
    known = available(directory)
    if agent in known:
        return known[agent], load(known[agent])
    names = sorted(known)
    close = difflib.get_close_matches(agent, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    missing = "".join(f" Not loaded: {reason}." for reason in unavailable(directory).values())
    raise SubmissionError(f"unknown submission {agent!r}.{hint} Known: {', '.join(names)}. "
                          f"Or give a path to a .py file, or package.module:attribute.{missing}")


@cache
def load(ref: str) -> Submission:
    """The submission behind a canonical reference (cached per process)."""
    if ".py" in ref and (ref.endswith(".py") or ".py::" in ref):
        path, _, name = ref.partition("::")
        found = _declared(_import_file(Path(path)), path)
        if name:
            if name not in found:
                raise SubmissionError(f"{path} declares no submission {name!r} "
                                      f"(it declares {sorted(found)})")
            return found[name]
        if len(found) != 1:
            raise SubmissionError(f"{path} declares {sorted(found)}: add ::name to choose")
        return next(iter(found.values()))
    module_name, _, attribute = ref.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise SubmissionError(f"cannot import submission {ref!r}: {exc}") from exc
    submission = target() if callable(target) and not isinstance(target, Submission) else target
    if not isinstance(submission, Submission):
        raise SubmissionError(f"{ref} is not a Submission (got {type(submission).__name__})")
    return submission


def available(directory: Path = SUBMISSIONS_DIR) -> dict[str, str]:
    """Submission name -> reference, for the files in ``directory`` and entry points."""
    refs: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        refs[ep.name] = ep.value
    if directory.is_dir():
        skipped = unavailable(directory)
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_") or path in skipped:
                continue
            for name in _declared(_import_file(path), str(path)):
                if name in refs:
                    raise SubmissionError(f"{path}: submission name {name!r} is declared "
                                          f"twice (also {refs[name]})")
                refs[name] = f"{path.resolve()}::{name}"
    return refs


def unavailable(directory: Path = SUBMISSIONS_DIR) -> dict[Path, str]:
    """Submission files that need an optional dependency that is not installed (e.g. torch
    for gnn-fm), with one line saying what to install. They are left out of ``available``,
    so the other submissions work on a light install."""
    out = {}
    for path in sorted(directory.glob("*.py")) if directory.is_dir() else []:
        try:
            _import_file(path)
        except MissingExtraError as exc:
            out[path] = str(exc)
        except SubmissionError:
            pass  # a broken file is reported where it is used
    return out


def _declared(module, where: str) -> dict[str, Submission]:
    items = getattr(module, "SUBMISSIONS", None)
    if items is None:
        items = [getattr(module, "SUBMISSION", None)]
    found = {s.name: s for s in items if isinstance(s, Submission)}
    if not found or len(found) != len(items):
        raise SubmissionError(f"{where}: declare SUBMISSION = Submission(...) or "
                              "SUBMISSIONS = [Submission(...), ...] with distinct names")
    return found


@cache
def _import_file(path: Path):
    path = Path(path).resolve()
    if not path.is_file():
        raise SubmissionError(f"submission file {path} does not exist")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    module_name = f"rlbench_icl_submission_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        del sys.modules[module_name]
        if exc.name in EXTRAS:
            raise MissingExtraError(f"{path.name} needs {exc.name}: install it with "
                                    f"pip install -e '.[{EXTRAS[exc.name]}]' (or "
                                    f"pip install 'rlbench-icl[{EXTRAS[exc.name]}]')") from exc
        raise SubmissionError(f"{path}: importing the submission failed: {exc!r}") from exc
    except Exception as exc:
        del sys.modules[module_name]
        raise SubmissionError(f"{path}: importing the submission failed: {exc!r}") from exc
    return module
