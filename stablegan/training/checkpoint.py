"""Checkpoint files (the format lives in :mod:`stablegan.core.checkpoint`, below methods and
training, so both can read checkpoints without importing each other)."""

from stablegan.core.checkpoint import (
    FORMAT,
    MAGIC,
    TRAILER,
    is_complete,
    load_checkpoint,
    load_latest,
    load_module,
    pretrained_checkpoint,
    previous_path,
    save_checkpoint,
)

__all__ = ["FORMAT", "MAGIC", "TRAILER", "is_complete", "load_checkpoint", "load_latest",
           "load_module", "pretrained_checkpoint", "previous_path", "save_checkpoint"]
