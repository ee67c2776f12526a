"""stablegan: stable, measurable, reproducible GAN training.

Public API::

    from stablegan import Trainer, Config, load_config
    trainer = Trainer(generator, discriminator, data, {"method": "wgan-gp", "steps": 500})
    trainer.fit()
"""

from __future__ import annotations

__version__ = "0.1.0"

from stablegan.config import Config  # noqa: E402
from stablegan.configure import from_dict  # noqa: E402
from stablegan.errors import StableganError  # noqa: E402
from stablegan.recipes import load_config, recipe_names  # noqa: E402
from stablegan.training.trainer import Trainer, load_run  # noqa: E402

__all__ = ["Config", "StableganError", "Trainer", "__version__", "from_dict", "load_config",
           "load_run", "recipe_names"]
