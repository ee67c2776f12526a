"""The command line: listing verbs, train/eval/sample outputs, and clean errors for bad input."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from stablegan.cli import main
from stablegan.config import read_yaml
from stablegan.configure import from_dict
from stablegan.methods import PRESETS
from stablegan.recipes import recipe_names

pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")

TINY_SET = [
    "data.batch_size=16",
    "model.hidden=16",
    "model.layers=1",
    "log.tensorboard=false",
    "eval.n_samples=64",
]


def _sets(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        out += ["--set", item]
    return out


def _train_args(out: Path, steps: int = 3, *extra: str) -> list[str]:
    return ["train", "--steps", str(steps), "--out", str(out), "--quiet",
            *_sets([*TINY_SET, "log.every=1", *extra])]


def _is_png(path: Path) -> bool:
    with Image.open(path) as im:
        im.verify()
        return im.format == "PNG"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One 3-step CLI training run shared by the read-only tests below."""
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(_train_args(out)) == 0
    return out


# ----------------------------------------------------------------------------- listings


def test_recipes_lists_every_recipe(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == recipe_names()
    assert any(line.startswith("ring") and line.endswith("(default)") for line in lines)


def test_methods_lists_every_preset(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out.split("\n\n")[0]  # then: recipe -> default method
    names = [line.split()[0] for line in out.strip().splitlines()]
    assert names == list(PRESETS)
    assert all(len(line.split()) > 1 for line in out.strip().splitlines())  # with descriptions


def test_version_names_stablegan_torch_and_python(capsys):
    from importlib import metadata

    import stablegan

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out.strip()
    py = ".".join(map(str, sys.version_info[:3]))
    assert out == (f"stablegan {stablegan.__version__} (torch {metadata.version('torch')}, "
                   f"Python {py})")


def test_help_lists_every_command_on_one_line(capsys):
    from stablegan.cli import COMMANDS

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    block = out.split("commands:\n")[1].split("\n\n")[0].splitlines()
    assert sorted(line.split()[0] for line in block) == sorted(COMMANDS)
    assert all(len(line.split()) > 2 and len(line) <= 100 for line in block)  # a real one-liner
    assert "usage: stablegan [-h] [--version] [--debug] COMMAND ..." in out


def test_bare_command_prints_the_help_and_exits_2(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "commands:" in err and "\n  demo " in err and "start here:" in err


@pytest.mark.parametrize("word, guess", [("trian", "did you mean 'train'? "), ("xyzzy", "")])
def test_unknown_command_exits_2_with_a_guess(capsys, word, guess):
    assert main(["--debug", word, "--steps", "3"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: unknown command '{word}'",
                   f"hint: {guess}'stablegan --help' lists the commands"]


# ------------------------------------------------------------------------- train / eval / sample


@pytest.mark.slow
def test_train_writes_the_run_directory(run_dir):
    for name in ("config.yaml", "metrics.jsonl", "checkpoints/last.pt", "losses.png",
                 "eval.json"):
        assert (run_dir / name).is_file(), name
    cfg = from_dict(read_yaml(run_dir / "config.yaml"))
    assert cfg.steps == 3 and cfg.data.batch_size == 16 and cfg.log.progress is False
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert math.isfinite(r["loss/d"]) and math.isfinite(r["loss/g"])
    samples = sorted((run_dir / "samples").glob("*.png"))
    assert samples and all(_is_png(p) for p in samples)
    assert _is_png(run_dir / "losses.png")
    result = json.loads((run_dir / "eval.json").read_text())
    assert {"modes", "swd"} <= set(result)


@pytest.mark.slow
def test_train_prints_the_run_summary(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(_train_args(out, 1)) == 0
    printed = capsys.readouterr().out
    assert f"run directory: {out}" in printed
    lines = printed.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:3] == ["metric", "value",
                                                                           "floor"])
    rows = {line.split()[0]: line.split()[1:] for line in lines[head + 2:] if line.strip()
            and not line.startswith("(")}
    assert "swd" in rows and len(rows["swd"]) == 2  # value and floor
    assert "swd" in json.loads((out / "eval.json").read_text())


@pytest.mark.slow
def test_eval_prints_one_json_object_and_writes_eval_json(run_dir, capsys):
    assert main(["eval", "--run", str(run_dir), "--n", "64"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["step"] == 3
    assert math.isfinite(result["swd"])
    assert json.loads((run_dir / "eval.json").read_text()) == result


@pytest.mark.slow
def test_sample_writes_a_png(run_dir, tmp_path, capsys):
    target = tmp_path / "out" / "s.png"
    assert main(["sample", "--run", str(run_dir), "--out", str(target), "--n", "16"]) == 0
    assert _is_png(target)
    assert str(target) in capsys.readouterr().out


@pytest.mark.slow
def test_resume_continues_a_run_even_with_quiet(tmp_path, capsys):
    out = tmp_path / "r"
    # first run with the progress bar on, then resume with --quiet and more steps
    args = ["train", "--steps", "2", "--out", str(out), *_sets([*TINY_SET, "log.every=1"])]
    assert main(args) == 0
    assert main(["train", "--out", str(out), "--resume", "--quiet", "--steps", "4"]) == 0
    captured = capsys.readouterr()
    assert "resuming" in captured.err and "step 2/4" in captured.err
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]


@pytest.mark.slow
def test_short_run_with_recipe_log_every_still_logs_its_last_step(tmp_path):
    out = tmp_path / "r"
    args = ["train", "--steps", "3", "--out", str(out), "--quiet", *_sets(TINY_SET)]
    assert main(args) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows and rows[-1]["step"] == 3
    assert (out / "losses.png").is_file()


# ----------------------------------------------------------------------------- clean errors


def _assert_user_error(rc: int, err: str, *fragments: str) -> None:
    assert rc == 2, err
    assert err.startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--set", "optim.g_lrr=1e-4"], ["optim.g_lrr", "did you mean 'optim.g_lr'"]),
        (["--set", "schedule.n_critic=0"], ["schedule.n_critic"]),
        (["--set", "log.progress=maybe"], ["log.progress"]),
        (["--recipe", "rnig"], ["unknown recipe 'rnig'", "did you mean 'ring'"]),
        (["--set", "method=wgan-gpp"], ["unknown method 'wgan-gpp'", "wgan-gp"]),
        (["--recipe", "image-folder"], ["data.path"]),
        (["--steps", "0"], ["steps"]),
        (["--set", "data.name=tensor", "--set", "data.path=/nonexistent/x.pt"],
         ["/nonexistent/x.pt"]),
        (["--recipe", "ring", "--set", "data.path=/x"],
         ["data 'ring' reads no files, so data.path=/x has no effect", "hint: only data"]),
    ],
    ids=["unknown-key", "bad-value", "bad-bool", "unknown-recipe", "unknown-method",
         "image-folder-without-path", "zero-steps", "missing-tensor-file", "path-for-ring"],
)
def test_bad_train_inputs_exit_2_without_traceback(tmp_path, capsys, argv, fragments):
    out = tmp_path / "never"
    rc = main(["train", "--out", str(out), "--quiet", *argv])
    _assert_user_error(rc, capsys.readouterr().err, *fragments)
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("method: nsgan\ndata: {name: ring, batch_size: 16\nsteps: 5\n",
         ["is not valid YAML: line 3, column 6: ", "line 3 reads 'steps: 5'",
          "hint: unbalanced braces or brackets: the '{' at line 2, column 7 is not closed"]),
        ("data:\n\tname: ring\n",
         ["is not valid YAML: line 2, column 1: ", "hint: YAML indents with spaces only"]),
    ],
    ids=["unclosed-brace", "tab"],
)
def test_corrupt_config_file_exits_2_with_line_column_and_hint(tmp_path, capsys, text,
                                                               fragments):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    out = tmp_path / "never"
    rc = main(["train", "--config", str(config), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    _assert_user_error(rc, err, f"error: config file '{config}'", *fragments)
    assert not out.exists()


def test_resume_without_checkpoint_exits_2(tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    rc = main(["train", "--out", str(out), "--resume", "--quiet"])
    _assert_user_error(rc, capsys.readouterr().err, "cannot resume")
    # also with an explicit config
    rc = main(["train", "--out", str(out), "--resume", "--quiet", *_sets(TINY_SET)])
    _assert_user_error(rc, capsys.readouterr().err, "cannot resume")
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_training_into_an_existing_run_is_refused_and_leaves_it_alone(run_dir, capsys):
    ckpt = run_dir / "checkpoints" / "last.pt"
    before = ckpt.read_bytes()
    metrics = (run_dir / "metrics.jsonl").read_bytes()
    rc = main(_train_args(run_dir))
    _assert_user_error(rc, capsys.readouterr().err, "already holds a run", "--resume")
    assert ckpt.read_bytes() == before
    assert (run_dir / "metrics.jsonl").read_bytes() == metrics


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["eval", "--run", "{missing}"], "not a stablegan run directory"),
        (["sample", "--run", "{missing}"], "not a stablegan run directory"),
        (["sample", "--run", "{run}", "--n", "0"], "--n"),
        (["eval", "--run", "{run}", "--checkpoint", "nope.pt"], "nope.pt"),
    ],
)
@pytest.mark.slow
def test_bad_eval_and_sample_inputs_exit_2(run_dir, tmp_path, capsys, argv, fragment):
    argv = [a.format(missing=tmp_path / "missing", run=run_dir) for a in argv]
    rc = main(argv)
    _assert_user_error(rc, capsys.readouterr().err, fragment)


# ----------------------------------------------------------------------------- a real process


@pytest.mark.slow
def test_python_m_stablegan_in_a_subprocess(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ok = subprocess.run([sys.executable, "-m", "stablegan", "methods"], capture_output=True,
                        text=True, timeout=120, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "ppo-gan" in ok.stdout and "wgan-gp" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "stablegan", "train", "--out",
                          str(tmp_path / "x"), "--set", "schedul.n_critic=5"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: unknown config key 'schedul.n_critic'")
    assert "did you mean 'schedule.n_critic'?" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert bad.stdout == ""
