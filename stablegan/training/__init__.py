"""The training loop, checkpoints and run logging."""
