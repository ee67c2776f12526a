"""What a person sees: the progress bar and the wall-time estimate, the end-of-run table, the
method of each recipe, extractor provenance in evaluations and comparisons, the one-file report,
and mode metrics for a user's own tensors."""

from __future__ import annotations

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
