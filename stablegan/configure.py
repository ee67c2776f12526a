"""Config resolution, a level above the schema: method presets and the evaluation names.

Resolution order (later wins)::

    defaults  <-  method preset (``method: NAME``)  <-  recipe file  <-  --set key=value

A method preset is a small fragment over the ingredients of :mod:`stablegan.config` (see
:mod:`stablegan.methods.presets`). Recipes hold data/model/budget settings; anything a recipe or
``--set`` states explicitly overrides the preset. Metric and extractor names in ``eval.*`` are
checked against the metric and extractor registries here, so a typo fails when the config is
built, not after training (the registries, and torch, are imported only when a name is set).
"""

from __future__ import annotations

import difflib
from typing import Any

from stablegan.config import Config, build, deep_merge
from stablegan.errors import ConfigError
from stablegan.methods.presets import PRESETS, preset_fragment

__all__ = ["from_dict", "resolve"]


def resolve(layers: list[dict[str, Any]]) -> Config:
    """Merge recipe/--set layers over the method preset and defaults, validate, return a Config."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer)
    method = merged.get("method", Config.method)
    if not isinstance(method, str) or method not in PRESETS:
        close = difflib.get_close_matches(str(method), list(PRESETS), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "run 'stablegan methods' for the list"
        raise ConfigError(f"unknown method '{method}' (config key 'method')", hint=hint)
    cfg = build(deep_merge(preset_fragment(method), merged))
    if cfg.eval.metrics or cfg.eval.extractor != "auto":
        # named metrics or extractors are checked against their registries, which import
        # torch: only when there is a name to check (the defaults are always valid)
        from stablegan.metrics.settings import check_eval_config

        check_eval_config(cfg.eval)
    return cfg


def from_dict(data: dict[str, Any]) -> Config:
    """A validated Config from one nested dict (e.g. a saved ``config.yaml``)."""
    return resolve([data])
