"""Reloading a run directory: the trainer of a finished or interrupted run, for ``stablegan
sample`` / ``eval`` / ``transfer`` and library users (``stablegan.load_run``)."""

from __future__ import annotations

import sys
from pathlib import Path

from stablegan.config import deep_merge, parse_set, read_yaml
from stablegan.configure import from_dict
from stablegan.core.checkpoint import load_checkpoint, load_latest
from stablegan.errors import ConfigError
from stablegan.training.trainer import Trainer

__all__ = ["load_run"]


def load_run(run_dir: str | Path, checkpoint: str = "last.pt",
             eval_overrides: list[str] | None = None) -> Trainer:
    """Rebuild a trainer from a run directory's config and checkpoint (for sample/eval).

    ``eval_overrides`` (``["eval.extractor=pixels", ...]``) change how the run is evaluated;
    only ``eval.*`` keys are accepted, since anything else would not match the checkpoint.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"'{run_dir}' is not a stablegan run directory (no config.yaml)",
                          hint="pass the --out directory of a finished or running train")
    data = read_yaml(run_dir / "config.yaml")
    extra = parse_set(eval_overrides or [])
    if set(extra) - {"eval"}:
        bad = sorted(set(extra) - {"eval"})
        raise ConfigError(f"only eval.* keys can be changed when evaluating a run, not {bad}",
                          hint="train a new run to change anything else")
    cfg = from_dict(deep_merge(data, extra))
    trainer = Trainer.from_config(cfg, out_dir=run_dir)
    path = run_dir / "checkpoints" / checkpoint
    if checkpoint == "last.pt":
        state, _, warnings = load_latest(path)
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
    else:
        state = load_checkpoint(path)
    trainer.load_state_dict(state)
    return trainer
