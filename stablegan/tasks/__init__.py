"""Tasks: one per modality (see :mod:`stablegan.tasks.base`), looked up by the name a data source
gives in its ``task`` attribute.

``register_task(name, cls)`` adds a modality without editing the package; ``task_for(data, cfg)``
builds the task of a data source.
"""

from __future__ import annotations

from stablegan.tasks.base import EvalSets, Task
from stablegan.tasks.images import ImagesTask
from stablegan.tasks.points import PointsTask
from stablegan.tasks.registry import TASKS, register_task, task_class, task_for
from stablegan.tasks.style import StyleTask
from stablegan.tasks.text import TextTask

TASKS.update({"points": PointsTask, "images": ImagesTask, "text": TextTask, "style": StyleTask})

__all__ = ["TASKS", "EvalSets", "ImagesTask", "PointsTask", "StyleTask", "Task", "TextTask",
           "register_task", "task_class", "task_for"]
