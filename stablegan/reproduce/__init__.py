"""``stablegan reproduce NAME``: the paper's tables at their published settings (``tables.py``),
probed (``probe.py``), planned and packed (``plan.py``), run and resumed through
``stablegan.compare``'s runner and tabulated beside the published numbers (``run.py``).

Importing this package loads nothing heavy: ``tables`` has no torch; import ``run`` to run.
"""
