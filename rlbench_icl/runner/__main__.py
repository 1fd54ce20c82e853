"""The child process of ``execute_isolated``: ``python -m rlbench_icl.runner SPEC OUT``.

The entry point is this file rather than ``isolation.py`` itself, because the package imports
``isolation`` first and ``python -m`` would then run a second copy of a module already loaded.
"""

import sys

from .isolation import run_child

if __name__ == "__main__":
    run_child(*sys.argv[1:3])
