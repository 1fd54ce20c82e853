"""Where the runs execute: local processes (joblib's loky), a Dask cluster or a Ray cluster.

The grid's results do not depend on the backend: every run is a pure function of its
``RunSpec``, and the main process writes every file. Dask and Ray are used through joblib's
own backends, so no scheduling is home-made here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import BackendError

BACKENDS = ("loky", "dask", "ray")


@contextmanager
def execution_backend(name: str, jobs: int, scheduler: str | None = None) -> Iterator[None]:
    """Run joblib calls inside on ``name``.

    Args:
        name: ``loky`` (local processes), ``dask`` or ``ray``.
        jobs: local workers to start for ``dask`` without a scheduler.
        scheduler: ``dask``: a scheduler address (``tcp://host:8786``); without one a local
            cluster of ``jobs`` single-threaded worker processes is started on loopback.
            ``ray``: a Ray address, or None for a local Ray.
    """
    import joblib  # here: the CLI names the backends without paying joblib's 0.15 s start

    if name == "loky":
        yield
    elif name == "dask":
        with _dask_client(jobs, scheduler), joblib.parallel_config(backend="dask"):
            yield
    elif name == "ray":
        with _ray(scheduler), joblib.parallel_config(backend="ray"):
            yield
    else:
        raise BackendError(f"unknown backend {name!r}; choose one of {BACKENDS}")


@contextmanager
def _dask_client(jobs: int, scheduler: str | None):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BackendError("the dask backend needs `pip install distributed`") from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise BackendError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield
        return
    with LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, Client(cluster):
        yield


@contextmanager
def _ray(address: str | None):
    try:
        import ray
        from ray.util.joblib import register_ray
    except ImportError:
        raise BackendError("the ray backend needs `pip install ray`") from None
    register_ray()
    ray.init(address=address)
    try:
        yield
    finally:
        ray.shutdown()
