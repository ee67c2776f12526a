"""stablegan: stable, measurable, reproducible GAN training.

Public API::

    from stablegan import Trainer, Config, load_config
    trainer = Trainer(generator, discriminator, data, {"method": "wgan-gp", "steps": 500})
    trainer.fit()

The names are imported when first used (module ``__getattr__``, PEP 562), so ``import
stablegan`` and the CLI's quick commands (``--help``, ``recipes``, ``methods``, ``config``) do
not pay for importing torch and every module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stablegan.core import __version__

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from stablegan.config import Config
    from stablegan.configure import from_dict
    from stablegan.errors import StableganError
    from stablegan.recipes import load_config, recipe_names
    from stablegan.training.trainer import Trainer, load_run

# public name -> the module that defines it
_LAZY = {
    "Config": "stablegan.config",
    "StableganError": "stablegan.errors",
    "Trainer": "stablegan.training.trainer",
    "from_dict": "stablegan.configure",
    "load_config": "stablegan.recipes",
    "load_run": "stablegan.training.trainer",
    "recipe_names": "stablegan.recipes",
}

__all__ = ["Config", "StableganError", "Trainer", "__version__", "from_dict", "load_config",
           "load_run", "recipe_names"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stablegan' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
