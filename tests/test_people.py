"""What a person sees: the progress bar and the wall-time estimate, the end-of-run table, the
method of each recipe, extractor provenance in evaluations and comparisons, the one-file report,
and mode metrics for a user's own tensors."""

from __future__ import annotations

import json
import re

from stablegan import Trainer
from stablegan.training.rundir import format_duration, format_estimate


def _bar_segments(err: str) -> list[str]:
    return [s.strip() for s in re.split(r"[\r\n]", err) if s.strip().startswith("train")]


# ----------------------------------------------------------------------------- progress, estimate
def test_final_progress_line_is_printed_once_and_counts_to_the_budget(make_cfg, capsys):
    cfg = make_cfg("log.progress=true", steps=12)
    Trainer.from_config(cfg).fit()
    err = capsys.readouterr().err
    segments = _bar_segments(err)
    assert segments, err
    assert sum("12/12" in s for s in segments) == 1, segments
    assert not any("13it" in s or "13/12" in s for s in segments), segments


def test_wall_time_estimate_is_one_line_on_stderr_only_with_progress(make_cfg, capsys):
    cfg = make_cfg("log.progress=true", steps=12)
    Trainer.from_config(cfg).fit()
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "estimate:" in ln]
    assert len(lines) == 1, err
    assert re.search(r"estimate: about .+ for 12 iterations \(\d+ left\) at .+ (s/it|it/s)",
                     lines[0]), lines[0]
    Trainer.from_config(make_cfg(steps=12)).fit()  # log.progress=false: silent
    assert "estimate:" not in capsys.readouterr().err


def test_estimate_wording():
    assert format_duration(7800) == "2 h 10 min"
    assert format_duration(95) == "1 min 35 s"
    assert format_duration(12) == "12 s"
    line = format_estimate(3.9, 2000, 2000, 5)
    assert line.startswith("estimate: about 2 h 10 min for 2,000 iterations at 3.9 s/it")


def test_estimate_changes_no_number(make_cfg):
    quiet = Trainer.from_config(make_cfg(steps=8)).fit()
    loud = Trainer.from_config(make_cfg("log.progress=true", steps=8)).fit()
    assert quiet == loud


# ----------------------------------------------------------------------------- end-of-run output
def test_end_of_run_prints_a_short_table_not_a_json_line(tmp_path, capsys):
    from stablegan.cli import main

    out = tmp_path / "r"
    assert main(["train", "--recipe", "ring", "--steps", "3", "--out", str(out), "--quiet",
                 "--set", "log.tensorboard=false", "--set", "eval.n_samples=200"]) == 0
    printed = capsys.readouterr().out
    assert "{" not in printed  # no JSON for people; eval.json has it
    assert re.search(r"^metric\s+value\s+floor$", printed, re.M), printed
    assert re.search(r"^modes\s+\S+\s+8$", printed, re.M), printed
    saved = json.loads((out / "eval.json").read_text())
    assert "modes" in saved and "extractor" not in saved  # points: no feature extractor


def test_table_shows_kid_times_1000_with_its_unit_and_five_sentences():
    from stablegan.reports.table import result_table

    result = {"kid/classifier": 0.0123, "floor/kid/classifier": 0.0004, "fid/classifier": 3.5,
              "n_eval": 500, "samples": [f"sentence {i}" for i in range(10)]}
    text = result_table(result)
    assert re.search(r"^kid/classifier ×10³\s+12\.3\s+0\.4$", text, re.M), text
    assert re.search(r"^fid/classifier\s+3\.5$", text, re.M), text
    assert "sentence 4" in text and "sentence 5" not in text


def test_methods_lists_the_default_method_of_every_recipe(capsys):
    from stablegan.cli import main
    from stablegan.recipes import load_config, recipe_names

    assert main(["methods"]) == 0
    printed = capsys.readouterr().out
    assert "recipe -> default method" in printed
    for recipe in recipe_names():
        assert re.search(rf"^\s+{re.escape(recipe)}\s+{re.escape(load_config(recipe).method)}$",
                         printed, re.M), recipe
