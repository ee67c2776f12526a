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
    """Merge recipe/--set layers over the method preset and defaults, validate, return a Config.

    A layer's ``per_method: {NAME: fragment}`` (a recipe's settings for one method, e.g. the text
    recipes' ratio for ppo-gan) applies, when method NAME runs, right after that layer, so it
    beats the layer's own keys and loses to later layers (--set)."""
    plain = [{k: v for k, v in layer.items() if k != "per_method"} for layer in layers]
    merged: dict[str, Any] = {}
    for layer in plain:
        merged = deep_merge(merged, layer)
    method = merged.get("method", Config.method)
    if any("per_method" in layer for layer in layers):
        merged = {}
        for layer, body in zip(layers, plain):
            merged = deep_merge(merged, body)
            merged = deep_merge(merged, _per_method(layer.get("per_method"), method))
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


def _per_method(section: Any, method: Any) -> dict[str, Any]:
    """The fragment of ``per_method`` for ``method`` ({} when it names none); checked."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError("per_method must map method names to config fragments",
                          hint="per_method: {ppo-gan: {variational: {ratio: classifier_same_x}}}")
    for name, frag in section.items():
        if name not in PRESETS:
            raise ConfigError(f"per_method names unknown method '{name}'",
                              hint="run 'stablegan methods' for the list")
        if not isinstance(frag, dict) or "method" in frag:
            raise ConfigError(f"per_method.{name} must be a config fragment without 'method'",
                              hint="per_method: {ppo-gan: {variational: {ratio: exact}}}")
    return section.get(method) or {}


def from_dict(data: dict[str, Any]) -> Config:
    """A validated Config from one nested dict (e.g. a saved ``config.yaml``)."""
    return resolve([data])
