"""Small composable stabilisation tricks: EMA, DiffAugment, replay buffer, unrolled critic."""

from stablegan.tricks.augment import DiffAugment
from stablegan.tricks.ema import ExponentialMovingAverage
from stablegan.tricks.replay import ReplayBuffer
from stablegan.tricks.unrolled import unrolled_parameters

__all__ = ["DiffAugment", "ExponentialMovingAverage", "ReplayBuffer", "unrolled_parameters"]
