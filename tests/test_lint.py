import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is in the [test] extra")
def test_ruff_is_clean():
    targets = [p for p in ("rlbench_icl", "tests", "benchmarks", "submissions", "experiments")
               if (ROOT / p).exists()]
    result = subprocess.run(["ruff", "check", *targets], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
