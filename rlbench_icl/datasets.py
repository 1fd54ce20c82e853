"""The offline protocol's datasets, out of the harness and back: the exact arrays an agent
receives in ``run_offline`` (both read ``protocols.protocol_datasets``), for one task and seed.

- ``export_npz`` writes one ``.npz`` file: for every (epsilon, size) cell the seven ``Dataset``
  arrays under ``eps<epsilon>-n<size>/<field>`` (``eps0p5-n50/states``), the cells' ``epsilon``
  and ``dataset_episodes``, and the metadata ``schema``, ``task_id``, ``task_version``,
  ``task_digest``, ``seed`` and ``harness_version``. It holds no object arrays
  (``np.load(path, allow_pickle=False)`` reads it) and no timestamps: the same export gives
  the same bytes.
- ``export_minari`` writes one Minari dataset per cell under a Minari datasets root, with the
  ids ``rlbench-icl/<task id>/seed-<seed>/eps<epsilon>-n<size>-v0``; the same metadata is in
  each dataset's ``storage.metadata["rlbench_icl"]``. Needs the ``minari`` extra.
- ``load_datasets`` reads either back as ``{(epsilon, size): Dataset}``, ``load_metadata``
  its metadata.

Both writers are atomic: a reader sees the previous export or the whole new one, never part.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import gymnasium
import numpy as np

from ._version import __version__
from .contract import Dataset
from .envs import NAMESPACE
from .errors import MissingExtraError, RlbenchIclError
from .families import INSTANCE_ID
from .protocols import OfflineSettings, protocol_datasets, protocol_settings
from .registry import default_registry
from .store import make_dirs, remove_empty, write_atomic
from .tasks import Task

SCHEMA = "rlbench-icl/datasets/1"
FIELDS = ("states", "actions", "rewards", "next_states", "terminated", "episode", "step")
DTYPES = (np.int64, np.int64, np.float64, np.int64, np.bool_, np.int64, np.int64)
MINARI_NAMESPACE = "rlbench-icl"
MINARI_EXTRA = "minari"
METADATA = ("schema", "task_id", "task_version", "task_digest", "seed", "harness_version")


class ExportError(RlbenchIclError, ValueError):
    """A dataset export that cannot be made, or a path that holds no export."""


def export_npz(task: Task, seed: int, path: Path,
               settings: OfflineSettings | None = None) -> Path:
    """Write the datasets of the offline run ``(task, seed)`` to the ``.npz`` file ``path``.

    Args:
        settings: the protocol's settings; default: the task's declared ones (what the
            leaderboard ranks on).

    Returns:
        ``path``, replaced atomically if it existed.
    """
    settings = settings or protocol_settings(task, "offline")
    arrays: dict[str, np.ndarray] = {k: np.array(v) for k, v in _metadata(task, seed).items()}
    cells = []
    for eps, n, dataset in protocol_datasets(task, settings, seed):
        cells.append((eps, n))
        arrays |= {f"{cell_name(eps, n)}/{k}": getattr(dataset, k) for k in FIELDS}
    arrays["epsilon"] = np.array([eps for eps, _ in cells], dtype=np.float64)
    arrays["dataset_episodes"] = np.array([n for _, n in cells], dtype=np.int64)
    write_atomic(Path(path), _npz_bytes(arrays))
    return Path(path)


def export_minari(task: Task, seed: int, root: Path,
                  settings: OfflineSettings | None = None) -> list[str]:
    """Write the datasets of the offline run ``(task, seed)`` as Minari datasets under the
    Minari datasets root ``root`` (nothing is written elsewhere, e.g. ``~/.minari``).

    The namespace ``rlbench-icl/<task id>/seed-<seed>`` is built in a scratch directory of
    ``root`` and moved into place whole, replacing an earlier export. A task the built-in
    registry holds gets its gymnasium spec (``recover_environment()`` rebuilds it) and, for
    an undiscounted finite-horizon task, the exact V_rand and V* as Minari's reference scores.

    Returns:
        The dataset ids, for ``minari.load_dataset`` with ``MINARI_DATASETS_PATH=root``.

    Raises:
        MissingExtraError: minari (or h5py, its storage) is not installed.
    """
    minari = _import_minari()
    settings = settings or protocol_settings(task, "offline")
    namespace = minari_namespace(task.id, seed)
    root = Path(root).resolve()  # minari joins a relative root onto itself
    made = make_dirs(root)
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=".rlbench-icl-export-"))  # hidden from
    try:                                                          # minari's listings
        with _minari_root(scratch), warnings.catch_warnings():
            # minari warns about every optional field left out (code_permalink, email, ...)
            warnings.filterwarnings("ignore", category=UserWarning, module=r"minari\.")
            common, meta = _minari_arguments(task), _metadata(task, seed)
            ids = [_write_minari_cell(minari, namespace, common, {**meta, "cell": i}, cell)
                   for i, cell in enumerate(protocol_datasets(task, settings, seed))]
        _replace_dir(scratch / namespace, root / namespace, scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        remove_empty(made)  # a failed export leaves no directory it made
        raise
    shutil.rmtree(scratch, ignore_errors=True)
    return ids


def load_datasets(path: Path) -> dict[tuple[float, int], Dataset]:
    """``{(epsilon, dataset_episodes): Dataset}`` of an export: an ``.npz`` file, or the
    namespace directory ``<root>/rlbench-icl/<task id>/seed-<seed>`` of a Minari export."""
    path = Path(path)
    if path.is_dir():
        return {(m["epsilon"], m["dataset_episodes"]): _from_episodes(d.iterate_episodes())
                for d, m in _minari_cells(path)}
    with _open_npz(path) as npz:
        return {(float(eps), int(n)): Dataset(
                    *(_read(npz, path, f"{cell_name(float(eps), int(n))}/{k}") for k in FIELDS),
                    num_episodes=int(n))
                for eps, n in zip(_read(npz, path, "epsilon"),
                                  _read(npz, path, "dataset_episodes"), strict=True)}


def load_metadata(path: Path) -> dict:
    """An export's ``schema``, ``task_id``, ``task_version``, ``task_digest``, ``seed`` and
    ``harness_version``, and its ``cells``: ``[(epsilon, dataset_episodes), ...]``."""
    path = Path(path)
    if path.is_dir():
        cells = [m for _, m in _minari_cells(path)]
        return {**{k: cells[0][k] for k in METADATA},
                "cells": [(m["epsilon"], m["dataset_episodes"]) for m in cells]}
    with _open_npz(path) as npz:
        meta = {k: _read(npz, path, k).item() for k in METADATA}
        return {**meta, "cells": [(float(e), int(n)) for e, n in zip(
            _read(npz, path, "epsilon"), _read(npz, path, "dataset_episodes"), strict=True)]}


def cell_name(epsilon: float, dataset_episodes: int) -> str:
    """``eps0p5-n50``: a cell's name in both formats (a Minari name cannot hold a dot)."""
    return f"eps{epsilon!r}-n{dataset_episodes}".replace(".", "p")


def minari_namespace(task_id: str, seed: int) -> str:
    """``rlbench-icl/<task id>/seed-<seed>`` (a dot in a task id becomes ``_``)."""
    return f"{MINARI_NAMESPACE}/{task_id.replace('.', '_')}/seed-{int(seed)}"


def _metadata(task: Task, seed: int) -> dict:
    return {"schema": SCHEMA, "task_id": task.id, "task_version": task.spec.version,
            "task_digest": task.digest, "seed": int(seed), "harness_version": __version__}


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` archive as ``np.savez_compressed`` writes it, minus its clock: every
    member is dated 1980-01-01, so the bytes depend on the arrays only."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


@contextlib.contextmanager
def _open_npz(path: Path) -> Iterator:
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ExportError(f"{path}: not a dataset export: {exc}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ExportError(f"{path}: not a dataset export (a single array, not an .npz)")
    with npz:
        found = npz["schema"].item() if "schema" in npz.files else None
        if found != SCHEMA:
            raise ExportError(f"{path}: schema {found!r} is not {SCHEMA!r}")
        yield npz


def _read(npz, path: Path, key: str) -> np.ndarray:
    try:
        return npz[key]
    except (KeyError, ValueError) as exc:
        raise ExportError(f"{path}: cannot read {key!r}: {exc}") from None


# --- Minari -------------------------------------------------------------------------------


def _import_minari():
    try:
        import h5py  # noqa: F401  (minari's storage; minari imports it only when writing)
        import minari
    except ModuleNotFoundError as exc:
        if exc.name not in ("minari", "h5py"):
            raise
        raise MissingExtraError(f"Minari export needs {exc.name}: install it with "
                                f"pip install -e '.[{MINARI_EXTRA}]'") from None
    return minari


@contextlib.contextmanager
def _minari_root(root: Path) -> Iterator[None]:
    """Point minari at ``root``: it reads ``MINARI_DATASETS_PATH`` at every call."""
    before = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = before


def _minari_arguments(task: Task) -> dict:
    """What every cell's ``create_dataset_from_buffers`` call shares: the spaces, the env
    spec if the task has one and, for an undiscounted finite-horizon task (Minari normalises
    undiscounted returns), the exact V_rand and V* as reference scores."""
    m, env_spec = task.mdp, _env_spec(task)
    scored = env_spec is not None and m.objective == "finite" and m.discount == 1.0
    best, rand = task.return_bounds if scored else (None, None)
    return {"env": env_spec, "observation_space": gymnasium.spaces.Discrete(m.num_states),
            "action_space": gymnasium.spaces.Discrete(m.num_actions), "author": "rlbench-icl",
            "ref_min_score": rand, "ref_max_score": best}


def _write_minari_cell(minari, namespace: str, common: dict, meta: dict,
                       cell: tuple[float, int, Dataset]) -> str:
    eps, n, dataset = cell
    dataset_id = f"{namespace}/{cell_name(eps, n)}-v0"
    made = minari.create_dataset_from_buffers(
        dataset_id, list(_episode_buffers(dataset)), **common,
        algorithm_name=f"eps * uniform + (1 - eps) * optimal, eps = {eps!r}",
        description=f"The first {n} episodes of the offline protocol's dataset of "
                    f"{meta['task_id']} (digest {meta['task_digest'][:12]}) for eps = {eps!r}, "
                    f"seed {meta['seed']}, rlbench-icl {meta['harness_version']}: what an "
                    "agent receives in that cell.")
    made.storage.update_metadata({"rlbench_icl": {**meta, "epsilon": eps,
                                                  "dataset_episodes": n}})
    return dataset_id


def _episode_buffers(dataset: Dataset) -> Iterator:
    """One Minari episode per episode: observations are its states then its last successor;
    an episode that did not terminate was truncated at the horizon."""
    from minari.data_collector import EpisodeBuffer

    bounds = np.searchsorted(dataset.episode, np.arange(dataset.num_episodes + 1))
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        terminated = dataset.terminated[a:b]
        truncated = np.zeros_like(terminated)
        truncated[-1] = not terminated[-1]
        yield EpisodeBuffer(id=k, observations=np.append(dataset.states[a:b],
                                                         dataset.next_states[b - 1]),
                            actions=dataset.actions[a:b], rewards=dataset.rewards[a:b],
                            terminations=terminated, truncations=truncated, infos={})


def _from_episodes(episodes) -> Dataset:
    """``_episode_buffers``'s inverse, from Minari ``EpisodeData``."""
    parts = [(e.observations[:-1], e.actions, e.rewards, e.observations[1:], e.terminations,
              np.full(len(e), k), np.arange(len(e))) for k, e in enumerate(episodes)]
    return Dataset(*(np.concatenate(c).astype(d, copy=False)
                     for c, d in zip(zip(*parts, strict=True), DTYPES, strict=True)),
                   num_episodes=len(parts))


def _minari_cells(directory: Path) -> list[tuple]:
    """``[(MinariDataset, its rlbench_icl metadata)]`` of a namespace directory, in the
    run's cell order (``cell``: epsilons as declared, sizes ascending)."""
    minari = _import_minari()
    cells = []
    for data in sorted(directory.glob("*/data")):
        dataset = minari.MinariDataset(data)
        meta = dataset.storage.metadata.get("rlbench_icl")
        if not meta or meta.get("schema") != SCHEMA:
            raise ExportError(f"{data.parent}: not a dataset of an rlbench-icl export")
        cells.append((dataset, meta))
    if not cells:
        raise ExportError(f"{directory}: no Minari dataset of an rlbench-icl export in it "
                          "(give the directory <root>/rlbench-icl/<task id>/seed-<seed>)")
    return sorted(cells, key=lambda c: c[1]["cell"])


def _env_spec(task: Task):
    """The gymnasium spec that rebuilds exactly this task, or None (a task of a private
    ``--task-path``, or one whose id now names another MDP)."""
    try:
        same = default_registry().make(task.id).digest == task.digest
    except RlbenchIclError:
        return None
    instance = INSTANCE_ID.match(task.id)
    env_id = f"{NAMESPACE}/{instance['family'] if instance else task.id}"
    if not same or env_id not in gymnasium.registry:
        return None
    spec = gymnasium.spec(env_id)
    if instance is None:
        return spec
    return dataclasses.replace(spec, kwargs={**spec.kwargs, "instance": int(instance["index"]),
                                             "instance_seed": int(instance["seed"])})


def _replace_dir(new: Path, target: Path, scratch: Path) -> None:
    """Move ``new`` to ``target``; an old ``target`` goes into ``scratch`` (deleted after)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        os.replace(target, scratch / ".previous")
    os.replace(new, target)
