"""Dump the fully resolved config of every recipe x every method preset as JSON.

    PYTHONPATH=$PWD python benchmarks/config_dump.py OUT_DIR

Writes ``OUT_DIR/<recipe>.json`` = {"(recipe)": the recipe as it resolves on its own, PRESET:
the recipe resolved with ``--set method=PRESET`` (the recipe's ``per_method`` section applied
for that preset), ...}; a combination the schema refuses is recorded as {"error", "hint"}.
``OUT_DIR/defaults.json`` holds ``Config().to_dict()`` and ``OUT_DIR/keys.json`` every dotted
key, and ``OUT_DIR/errors.json`` the message and hint of each of a few refused overrides
(``REFUSED``: one per validation helper that moved in issue 20.3). Keys are sorted, so two
dumps compare with ``diff -r`` whatever the order of the fields: a refactoring of the schema
that changes no value leaves every file identical.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from stablegan.config import Config, all_keys
from stablegan.errors import ConfigError
from stablegan.methods.presets import PRESETS
from stablegan.recipes import load_config, recipe_names

# (recipe, --set overrides) the schema refuses: the messages must not change either
REFUSED: list[tuple[str, list[str]]] = [
    ("ring", ["steps=0"]), ("coco", ["model.compile=true"]), ("coco", ["data.vocab_from=test"]),
    ("coco", ["model.d_embed_dim=65"]), ("oracle", ["data.oracle_vocab=1"]),
    ("coco", ["pretrain.lr=0"]), ("yelp-style", ["style.importance=softmax", "method=ppo-gan"]),
    ("yelp-style", ["style.adversary_real=2"]), ("yelp-style", ["style.tau_decay=0"]),
    ("digits", ["conditional.generator=cbn"]), ("digits", ["method=cgan-pd", "replay.size=8"]),
    ("digits", ["method=cgan-pd", "model.compile=true"]), ("ring", ["style.hiden=3"]),
    ("ring", ["data.max_lenn=3"]), ("ring", ["conditonal.critic=ac"]), ("ring", ["optim.g_lr=0"]),
]


def resolved(recipe: str, overrides: list[str]) -> dict[str, Any]:
    try:
        return load_config(recipe, None, overrides).to_dict()
    except ConfigError as err:
        return {"error": err.message, "hint": err.hint}


def write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write(out / "defaults.json", Config().to_dict())
    write(out / "keys.json", sorted(all_keys()))
    write(out / "errors.json", {f"{r} {' '.join(o)}": resolved(r, o) for r, o in REFUSED})
    for recipe in recipe_names():
        table = {"(recipe)": resolved(recipe, [])}
        for method in PRESETS:
            table[method] = resolved(recipe, [f"method={method}"])
        write(out / f"{recipe}.json", table)
        refused = sum("error" in v for v in table.values())
        print(f"{recipe}: {len(table)} configs ({refused} refused)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benchmarks/config_dump.py OUT_DIR")
    main(Path(sys.argv[1]))
