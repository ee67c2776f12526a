"""Built-in recipes (YAML files beside this module) and config resolution for the CLI."""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from stablegan.config import Config, ConfigError, parse_set, read_yaml
from stablegan.configure import resolve

DEFAULT_RECIPE = "ring"


def _recipe_dir() -> Path:
    return Path(str(resources.files("stablegan.recipes")))


def recipe_names() -> list[str]:
    return sorted(p.stem for p in _recipe_dir().glob("*.yaml"))


def recipe_dict(name: str) -> dict[str, Any]:
    path = _recipe_dir() / f"{name}.yaml"
    if not path.is_file():
        close = difflib.get_close_matches(name, recipe_names(), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "run 'stablegan recipes' for the list"
        raise ConfigError(f"unknown recipe '{name}'", hint=hint)
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def describe_recipes() -> list[tuple[str, str]]:
    return [(n, str(recipe_dict(n).get("description", ""))) for n in recipe_names()]


def load_config(recipe: str | None = None, config_file: str | Path | None = None,
                overrides: list[str] | None = None, steps: int | None = None,
                seed: int | None = None) -> Config:
    """Resolve defaults <- method preset <- recipe or config file <- --set <- --steps/--seed."""
    if recipe and config_file:
        raise ConfigError("give either --recipe or --config, not both")
    layers: list[dict[str, Any]] = []
    if config_file:
        layers.append(read_yaml(config_file))
    else:
        layers.append(recipe_dict(recipe or DEFAULT_RECIPE))
    layers.append(parse_set(overrides or []))
    top: dict[str, Any] = {}
    if steps is not None:
        top["steps"] = steps
    if seed is not None:
        top["seed"] = seed
    layers.append(top)
    return resolve(layers)
