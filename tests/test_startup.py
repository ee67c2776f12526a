"""Commands that need no training answer at once: ``--help``, ``recipes``, ``methods``,
``config`` and config errors import neither torch nor the heavy modules, and a SIGINT during
start-up exits quietly with code 130 (issue 19, item 2). Each check runs a fresh interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_python

HEAVY = ("torch", "numpy", "matplotlib", "stablegan.training.trainer", "stablegan.metrics.api")


@pytest.mark.parametrize(("argv", "code"), [
    (["--help"], 0), (["recipes"], 0), (["methods"], 0), (["config", "--recipe", "yelp-style"], 0),
    (["config", "--recipe", "ring", "optim.g_lr"], 0),
    (["train", "--recipe", "ring", "--set", "optim.glr=1"], 2),  # unknown key
    (["train", "--recipe", "ring", "--set", "optim.g_lr=abc"], 2),  # wrong type
    (["train", "--recipe", "rign"], 2),  # unknown recipe
    (["config", "--recipe", "ring", "optim.nope"], 2)])
def test_quick_commands_import_no_torch(tmp_path: Path, argv: list[str], code: int) -> None:
    got = run_python(f"""
        import sys
        from stablegan.cli import main
        try:
            rc = main({argv!r})
        except SystemExit as exit:  # argparse's --help
            rc = exit.code
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        print("RC", rc, "HEAVY", heavy)
        """, tmp_path)
    assert got.returncode == 0, got.stderr
    last = got.stdout.strip().splitlines()[-1]
    assert last == f"RC {code} HEAVY []", (last, got.stderr)
    if code == 2:
        assert got.stderr.startswith("error: ") and "Traceback" not in got.stderr


def test_import_stablegan_is_light_and_the_public_names_still_load(tmp_path: Path) -> None:
    got = run_python(f"""
        import sys
        import stablegan
        print([m for m in {HEAVY!r} if m in sys.modules], stablegan.__version__)
        from stablegan import Config, Trainer, load_run
        print(Trainer.__name__, Config.__name__, load_run.__name__, "torch" in sys.modules)
        """, tmp_path)
    assert got.returncode == 0, got.stderr
    assert got.stdout.splitlines() == ["[] 0.1.0", "Trainer Config load_run True"]


@pytest.mark.parametrize("when", ["torch", "stablegan.cli"])
def test_sigint_during_start_up_exits_quietly_with_130(tmp_path: Path, when: str) -> None:
    """SIGINT arrives while ``python -m stablegan train`` imports ``when`` (torch: inside the
    command; stablegan.cli: before main runs): exit 130, no traceback, nothing written."""
    out = tmp_path / "run"
    got = run_python(f"""
        import os, runpy, signal, sys

        class InterruptOnImport:
            def find_spec(self, name, path=None, target=None):
                if name == {when!r}:
                    sys.meta_path.remove(self)
                    os.kill(os.getpid(), signal.SIGINT)
                return None

        sys.meta_path.insert(0, InterruptOnImport())
        sys.argv = ["stablegan", "train", "--recipe", "ring", "--steps", "1", "--out", {str(out)!r}]
        runpy.run_module("stablegan", run_name="__main__", alter_sys=True)
        """, tmp_path)
    assert got.returncode == 130, (got.returncode, got.stderr)
    assert "Traceback" not in got.stderr and "KeyboardInterrupt" not in got.stderr
    assert not (out / "checkpoints").exists()
