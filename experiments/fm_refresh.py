"""gnn-fm (release 6) re-reading its experience less often, as submissions for
benchmarks/task_costs.py: the cost half of the fifteenth and seventeenth attempts' decision
rules (experiments/tune_fm.md). ``gnn-fm-f<f>`` re-reads once a pair visited since the last
reading has f times its count then (a first visit always counts); ``gnn-fm-f<f>-m1`` once it
has f * max(count then, 1) (``InContextAgent``'s ``refresh_floor`` 1). f = 1 is release 6;
f = 4 (floor 0) is release 6.1, gnn-fm as shipped.

    OMP_NUM_THREADS=1 python benchmarks/task_costs.py --tasks dev --offline "" \\
        --online ucbvi,experiments/fm_refresh.py::gnn-fm-f2,...
"""

from rlbench_icl.tuning import refresh_variant


def _variant(f: float, floor: float = 0.0):
    """gnn-fm's submission (name, files) with the agent of ``fm_submission`` at f, floor."""
    name = f"gnn-fm-f{f:g}" + (f"-m{floor:g}" if floor else "")
    return refresh_variant("gnn_fm.py", name, "ONLINE", f, floor)


SUBMISSIONS = [_variant(f) for f in (4.0, 3.0, 2.0, 1.5, 1.25)] + [
    _variant(f, 1.0) for f in (4.0, 2.0)]
