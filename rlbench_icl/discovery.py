"""Finding submissions: ``--agent X`` resolves, in this order, to

1. ``path/to/file.py`` (or ``path/to/file.py::name`` when a file declares several);
2. ``package.module:attribute``, an importable ``Submission`` or a function returning one;
3. a submission name declared by a file in ``submissions/`` (read, not imported: only the
   file of the named submission is ever run);
4. an installed package's entry point in the group ``rlbench_icl.submissions``.

A submission file declares ``SUBMISSION = Submission(...)``, or ``SUBMISSIONS = [...]`` for
named variants. Every resolved submission gets a canonical reference string that worker
processes resolve again, so nothing needs pickling.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import sys
import traceback
from collections.abc import Sequence
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
    """``(reference, submission)`` for an ``--agent`` argument, imported in this process
    (see the module docstring); ``reference`` alone imports nothing."""
    ref = reference(agent, directory)
    return ref, load(ref)


def reference(agent: str, directory: Path = SUBMISSIONS_DIR) -> str:
    """The canonical reference of an ``--agent`` argument, without importing any code: a
    name is looked up in what files declare literally (``available``)."""
    if agent.endswith(".py") or ".py::" in agent:
        path, _, name = agent.partition("::")
        return f"{Path(path).resolve()}::{name}" if name else str(Path(path).resolve())
    if ":" in agent:
        return agent
    known = available(directory)
    if agent in known:
        return known[agent]
    names = sorted(known)
    close = difflib.get_close_matches(agent, names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise SubmissionError(f"unknown submission {agent!r}.{hint} Known: {', '.join(names)}. "
                          f"Or give a path to a .py file, or package.module:attribute.")


_OBJECTS: dict[str, Submission] = {}


def register_object(submission: Submission) -> str:
    """A reference, valid in this process only, to a submission object (one defined in a
    notebook): ``load`` returns the object itself."""
    ref = f"<object>:{submission.name}:{id(submission)}"
    _OBJECTS[ref] = submission
    return ref


@cache
def load(ref: str) -> Submission:
    """The submission behind a canonical reference (cached per process)."""
    if ref in _OBJECTS:
        return _OBJECTS[ref]
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
    submission = target() if _is_factory(target) else target
    if not isinstance(submission, Submission):
        raise SubmissionError(f"{ref} is neither a Submission nor a Python function of no "
                              f"arguments returning one (it is {_kind(target)})")
    return submission


def _is_factory(target) -> bool:
    """A plain Python function callable with no arguments: never a builtin such as
    ``os:system`` or ``os:abort``, or a callable object such as ``builtins:exit``."""
    if not inspect.isfunction(target):
        return False
    try:
        inspect.signature(target).bind()
    except TypeError:
        return False
    return True


def _kind(target) -> str:
    if inspect.isfunction(target):
        return "a function that needs arguments or returns something else"
    return f"a {type(target).__name__}"


def origin(ref: str) -> Path:
    """The source file of a submission reference: its .py file, or its module's (found
    without importing the module; a dotted name imports its parent packages)."""
    if ".py" in ref and (ref.endswith(".py") or ".py::" in ref):
        return Path(ref.partition("::")[0]).resolve()
    try:
        spec = importlib.util.find_spec(ref.partition(":")[0])
    except (ImportError, ValueError) as exc:
        raise SubmissionError(f"cannot find the module of {ref!r}: {exc}") from None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise SubmissionError(f"{ref}: its module has no source file to hash")
    return Path(spec.origin).resolve()


def submission_code(ref: str, submission: Submission) -> dict:
    """``code_identity`` of a submission: its source and the files it declares."""
    return code_identity(origin(ref), submission.files)


def code_identity(source: Path, files: Sequence[str]) -> dict:
    """``{"sha256", "files"}``: SHA-256 of each file that decides what a submission does
    (its source and the ``files`` it declares, directories walked, named relative to the
    source's directory), and one hash over them all. Reads files; imports nothing."""
    source = Path(source)
    paths = [source]
    for name in files:
        path = Path(name) if Path(name).is_absolute() else source.parent / name
        if not path.exists():
            raise SubmissionError(f"{source}: declared file {name} does not exist")
        paths += sorted(p for p in path.rglob("*") if p.is_file() and
                        "__pycache__" not in p.parts) if path.is_dir() else [path]
    hashes = {os.path.relpath(p, source.parent): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in paths}
    digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    return {"sha256": digest, "files": dict(sorted(hashes.items()))}


def changed_files(stored: dict | None, current: dict) -> list[str]:
    """The files whose hash differs between two ``code_identity`` values."""
    before = (stored or {}).get("files", {})
    after = current["files"]
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))


def available(directory: Path = SUBMISSIONS_DIR) -> dict[str, str]:
    """Submission name -> reference, for the files in ``directory`` and entry points. Files
    are read, never imported: a name counts if the file declares it literally
    (``declared_names``), so looking one submission up runs no other submission's code."""
    refs: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        refs[ep.name] = ep.value
    for path in submission_files(directory):
        for name in declared_names(path) or []:
            if name in refs:
                raise SubmissionError(f"{path}: submission name {name!r} is declared "
                                      f"twice (also {refs[name]})")
            refs[name] = f"{path.resolve()}::{name}"
    return refs


def submission_files(directory: Path = SUBMISSIONS_DIR) -> list[Path]:
    if not directory.is_dir():
        return []
    return [p for p in sorted(directory.glob("*.py")) if not p.name.startswith("_")]


def declared_names(path: Path) -> list[str] | None:
    """The names a submission file declares, read from its source: each element of its
    module-level ``SUBMISSION = ...`` or ``SUBMISSIONS = [...]`` must be a call whose
    ``name=`` keyword or first argument is a string literal. None if a name is not
    literal (the file is then found by its path only)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id in ("SUBMISSION", "SUBMISSIONS")
               for t in targets) and node.value is not None:
            items = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) \
                else [node.value]
            names = [_literal_name(item) for item in items]
            return None if None in names else names
    return None


def _literal_name(node) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    for keyword in node.keywords:
        if keyword.arg == "name":
            value = keyword.value
            return value.value if isinstance(value, ast.Constant) and isinstance(
                value.value, str) else None
    first = node.args[0] if node.args else None
    return first.value if isinstance(first, ast.Constant) and isinstance(
        first.value, str) else None


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
        raise SubmissionError(import_failure(path, exc)) from exc
    except Exception as exc:
        del sys.modules[module_name]
        raise SubmissionError(import_failure(path, exc)) from exc
    return module


def import_failure(path: Path, exc: BaseException) -> str:
    """Where and why importing the submission file ``path`` failed: the line of that file
    the error comes from (its own, not a library's), the error's type and message."""
    if isinstance(exc, SyntaxError) and exc.filename == str(path):
        line, message = exc.lineno, exc.msg
    else:
        own = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line, message = (own[-1].lineno if own else None), str(exc)
    where = f"{path}, line {line}" if line else str(path)
    return f"{where}: importing the submission failed: {type(exc).__name__}: {message}"
