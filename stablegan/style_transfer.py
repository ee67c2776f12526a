"""``stablegan transfer``: rewrite sentences in another style with a trained style run.

Checks run before the model is loaded: the input file must exist, be UTF-8 and hold at least one
non-blank line; ``--to`` must be one of the run's labels. Lines are kept one-to-one with the
output: a line that tokenises to nothing gives an empty output line, words outside the
vocabulary are read as ``<unk>``, long lines are cut to ``max_len - 1`` tokens; each of these is
counted in one note on stderr.
"""

from __future__ import annotations

from pathlib import Path

import torch

from stablegan.errors import ConfigError, DataError


def read_input(path: str | Path) -> list[str]:
    from stablegan.data.style import _lines

    lines = _lines(Path(path).expanduser(), "input")
    if not any(ln.strip() for ln in lines):
        raise DataError(f"input file {path} holds no sentences",
                        hint="one sentence per line")
    return lines


def transfer_file(run: str | Path, input_path: str | Path, to: str | None = None,
                  checkpoint: str = "last.pt") -> tuple[list[str], list[str]]:
    """The transferred sentences of every line of ``input_path`` and notes on what was done."""
    from stablegan.metrics.style import predict, transfer_batches
    from stablegan.training.trainer import load_run

    lines = read_input(input_path)
    trainer = load_run(run, checkpoint)
    task = trainer.task
    if not callable(getattr(task, "lines", None)) or not hasattr(task.data, "encode_lines"):
        raise ConfigError(f"run {run} is not a style-transfer run (data '{task.data.name}')",
                          hint="train one with --recipe yelp-style or text-style")
    data = task.data
    ids, info = data.encode_lines(lines)
    if to is not None:
        targets = torch.full((len(ids),), data.label_index(str(to)), dtype=torch.long)
        how = f"to style {to!r}"
    else:
        source = predict(trainer.method.C, ids)
        targets = (source + 1) % data.num_styles
        how = "to the other style (source style read by the model's classifier)"
    G = trainer.generator_for_sampling()
    outputs = data.decode(transfer_batches(G, ids, targets))
    empty = set(info["empty"])
    result = ["" if i + 1 in empty else out for i, out in enumerate(outputs)]
    notes = [f"transferred {len(lines) - len(empty)} sentences {how}"]
    if empty:
        shown = ", ".join(str(n) for n in sorted(empty)[:10])
        notes.append(f"{len(empty)} lines tokenise to nothing (lines {shown}"
                     f"{', ...' if len(empty) > 10 else ''}): written as empty lines")
    if info["unk_tokens"]:
        words = ", ".join(info["unk_words"][:10])
        notes.append(f"{info['unk_tokens']} tokens ({len(info['unk_words'])} distinct: {words}"
                     f"{', ...' if len(info['unk_words']) > 10 else ''}) are not in the "
                     "vocabulary and were read as <unk>")
    if info["truncated"]:
        notes.append(f"{info['truncated']} lines were cut to {data.max_len - 1} tokens")
    return result, notes
