"""User-facing errors (the classes live in :mod:`stablegan.core.errors`; this is their public
path, ``from stablegan.errors import StableganError``)."""

from stablegan.core.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    DivergenceError,
    HealthError,
    ShapeError,
    StableganError,
)

__all__ = ["CheckpointError", "ConfigError", "DataError", "DivergenceError", "HealthError",
           "ShapeError", "StableganError"]
