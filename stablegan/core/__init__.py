"""The neutral bottom layer: what every other part of stablegan uses, importing nothing of it.

* :mod:`stablegan.core.errors`: the user-facing errors (one-line reason + hint; CLI exit 2);
* :mod:`stablegan.core.phases`: ``Phase``, ``Stats`` and ``average`` (named stretches of
  training and their step statistics);
* :mod:`stablegan.core.finite`: ``all_finite`` (one host sync for many tensors);
* :mod:`stablegan.core.files`: atomic writes of run-directory files and their errors;
* :mod:`stablegan.core.checkpoint`: the checkpoint file format (atomic, hashed, loaded with
  ``weights_only=True``) and safe loading of a network's weights;
* :mod:`stablegan.core.cache`: the cache directory (domain classifiers, oracle samples).

Nothing in ``core`` imports any other module of stablegan (``tests/test_layers.py`` checks), and
this ``__init__`` imports nothing at all, so ``import stablegan.core.errors`` stays cheap.
"""

__version__ = "0.1.0"
