"""The z-probe of finished style runs: ``python benchmarks/style_probe.py RUN [RUN ...]``.

For runs whose eval.json predates the ``z_style_accuracy`` metric (the autoencoders of
benchmarks/style.sh, trained before issue 18): loads each run's last checkpoint, computes
``z_style_accuracy`` (``stablegan.metrics.style``: a fresh MLP probe on the encoder's codes of
training sentences, balanced accuracy on the held-out ones) and writes ``RUN/probe.json``;
``style_summary.py`` reads it where eval.json lacks the key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stablegan.metrics.style import z_style_accuracy
from stablegan.training.trainer import load_run


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    for run in map(Path, argv):
        trainer = load_run(run)
        value = z_style_accuracy(trainer.task, trainer.generator_for_sampling())
        (run / "probe.json").write_text(json.dumps({"z_style_accuracy": value}) + "\n")
        print(f"{run.name}: z_style_accuracy {100 * value:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
