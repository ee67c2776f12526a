"""Training data sources: toy mixtures, image benchmarks, image folders and tensor files.

``build_data(cfg, seed)`` returns a :class:`DataSource`; see :mod:`stablegan.data.base` for the
sampling, evaluation-set and resume contracts.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from stablegan.config import DataConfig
from stablegan.data.base import DataSource, FiniteSource, too_small_error
from stablegan.data.folder import image_folder
from stablegan.data.oracle import oracle as oracle_source
from stablegan.data.style import STYLE_SOURCES
from stablegan.data.tensor import TensorSource
from stablegan.data.tensorfile import tensor_source
from stablegan.data.text import TEXT_SOURCES
from stablegan.data.toy import GaussianMixture, grid, ring
from stablegan.data.vision import cifar10, digits, mnist
from stablegan.errors import ConfigError

SOURCES: dict[str, Callable[[DataConfig, int], DataSource]] = {
    "ring": lambda cfg, seed: ring(seed),
    "grid": lambda cfg, seed: grid(seed),
    "digits": digits,
    "mnist": mnist,
    "cifar10": cifar10,
    "image-folder": image_folder,
    "tensor": tensor_source,
    "oracle": oracle_source,  # data.path: where the oracle's samples are cached
    **TEXT_SOURCES,
    **STYLE_SOURCES,  # labelled sentences for style transfer (task "style")
}
# the data names whose factory reads data.path; build_data refuses data.path for the others
READS_PATH = frozenset({"mnist", "cifar10", "image-folder", "tensor", "oracle", *TEXT_SOURCES,
                        *STYLE_SOURCES})

# the task of each data name whose factory always gives the same task ("tensor" gives points or
# images by the file's sample shape; data registered in SOURCES later is looked up by building it)
TASK_OF: dict[str, str] = {"ring": "points", "grid": "points", "digits": "images",
                           "mnist": "images", "cifar10": "images", "image-folder": "images",
                           "oracle": "text", **dict.fromkeys(TEXT_SOURCES, "text"),
                           **dict.fromkeys(STYLE_SOURCES, "style")}

__all__ = ["READS_PATH", "SOURCES", "TASK_OF", "DataSource", "FiniteSource", "GaussianMixture",
           "TensorSource", "build_data", "task_name"]


def build_data(cfg: DataConfig, seed: int) -> DataSource:
    """The data source named ``cfg.name``; its sampler is seeded with ``seed``.

    Raises ConfigError for an unknown name or a ``data.path`` given to data that reads no files,
    and DataError when a finite data set has fewer training items than ``cfg.batch_size``.
    """
    factory = SOURCES.get(cfg.name)
    if factory is None:
        close = difflib.get_close_matches(cfg.name, list(SOURCES), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"choose one of {', '.join(SOURCES)}"
        raise ConfigError(f"unknown data '{cfg.name}' (config key 'data.name')", hint=hint)
    if cfg.path is not None and cfg.name not in READS_PATH:
        raise ConfigError(
            f"data '{cfg.name}' reads no files, so data.path={cfg.path} has no effect",
            hint=f"only data {', '.join(n for n in SOURCES if n in READS_PATH)} read data.path; "
                 "remove it (--set data.path=null where a recipe sets it)",
        )
    source = factory(cfg, seed)
    if source.size is not None and source.size < cfg.batch_size:
        raise too_small_error(source.name, source.size, cfg.batch_size)
    return source


def task_name(cfg: DataConfig, seed: int = 0) -> str:
    """The name of the task that trains on the data ``cfg`` names: from :data:`TASK_OF` without
    reading any file when the name fixes it, else the ``task`` of the source built now."""
    if cfg.name in TASK_OF and SOURCES.get(cfg.name) is not None:
        return TASK_OF[cfg.name]
    return str(build_data(cfg, seed).task)
