"""The runner: a grid of independent runs (submission x task x protocol x seed) through joblib.

How the modules fit, in the order a run goes through them:

- ``plan``: the grid as plain ``RunSpec`` values (``plan_runs``), and the header every
  record of a run starts with.
- ``execute``: one run in this process; never raises, a failure becomes a failed record.
- ``isolation``: one run in a fresh Python process (``__main__`` is that process's entry).
- ``dispatch``: many runs through joblib, surviving workers that their agent kills.
- ``grid``: a grid into a results directory: locked, resumed, every record written atomically.
- ``summary``: the table ``rlbench-icl run`` prints.
"""

from .dispatch import execute_all
from .grid import GridReport, run_grid
from .plan import RunSpec, plan_runs, task_reference
from .summary import summary_rows

__all__ = [
    "GridReport",
    "RunSpec",
    "execute_all",
    "plan_runs",
    "run_grid",
    "summary_rows",
    "task_reference",
]
