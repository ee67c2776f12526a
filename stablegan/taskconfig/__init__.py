"""The config sections the tasks own, registered into :data:`SCHEMA`, which
:mod:`stablegan.config` composes into ``Config`` (so ``Config()`` has every section without
importing a task).

A built-in modality adds a module here with a ``register(schema)`` function and lists it in
``BUILT_IN``; the order is the order of the sections in ``Config`` and of their checks. A
modality outside the package calls ``SCHEMA.add_section(...)`` / ``SCHEMA.add_keys(...)``
before ``stablegan.config`` is first imported (docs/architecture.md, "A modality").
"""

from __future__ import annotations

from stablegan.core.schema import Schema
from stablegan.taskconfig import conditional, style, text

SCHEMA = Schema()
BUILT_IN = (text, conditional, style)
for _module in BUILT_IN:
    _module.register(SCHEMA)

__all__ = ["BUILT_IN", "SCHEMA"]
