"""Methods: the maths of one training iteration (critic phase, generator phase).

``GANMethod`` composes the classic toolkit; ``PPOGANMethod`` swaps in the clipped-surrogate
generator phase of Wu et al. (2020). ``presets`` names config fragments over both.
"""

from stablegan.methods.conditional import build_method  # conditional or ppo.build_method
from stablegan.methods.gan import GANMethod, NonFiniteError
from stablegan.methods.ppo import (
    ClassifierRatio,
    ExactRatio,
    PPOGANMethod,
    method_class,
)
from stablegan.methods.presets import PRESETS, describe, preset_fragment

__all__ = ["GANMethod", "PPOGANMethod", "ClassifierRatio", "ExactRatio", "NonFiniteError",
           "build_method", "method_class", "PRESETS", "describe", "preset_fragment"]
