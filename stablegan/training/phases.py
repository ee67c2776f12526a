"""Phases of training (defined in :mod:`stablegan.core.phases`, below methods and training)."""

from stablegan.core.phases import ADVERSARIAL, Averaged, Phase, Stats, average

__all__ = ["ADVERSARIAL", "Averaged", "Phase", "Stats", "average"]
