import subprocess
import sys

from rlbench_icl.cli import main


def test_tasks_command_prints_the_suite(capsys):
    assert main(["tasks", "--tasks", "quick"]) == 0
    out = capsys.readouterr().out
    assert "FrozenLake4x4-v0" in out and "0.7442" in out and "V_rand" in out


def test_unknown_selector_is_an_error_not_a_traceback(capsys):
    assert main(["tasks", "--tasks", "quik"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'quick'" in err and "Traceback" not in err


def test_console_script_help():
    for args in (["--help"], ["tasks", "--help"]):
        out = subprocess.run([sys.executable, "-m", "rlbench_icl.cli", *args],
                             capture_output=True, text=True, check=True).stdout
        assert "usage: rlbench-icl" in out


def test_core_imports_without_torch():
    code = ("import sys, rlbench_icl, rlbench_icl.cli; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
