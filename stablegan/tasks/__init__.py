"""Tasks: one per modality (see :mod:`stablegan.tasks.base`), looked up by the name a data source
gives in its ``task`` attribute.

``register_task(name, cls)`` adds a modality without editing the package; ``task_for(data, cfg)``
builds the task of a data source.
"""

from __future__ import annotations

from typing import Any

from stablegan.errors import ConfigError
from stablegan.tasks.base import EvalSets, Task, did_you_mean
from stablegan.tasks.images import ImagesTask
from stablegan.tasks.points import PointsTask
from stablegan.tasks.style import StyleTask
from stablegan.tasks.text import TextTask

TASKS: dict[str, type[Task]] = {"points": PointsTask, "images": ImagesTask, "text": TextTask,
                               "style": StyleTask}

__all__ = ["TASKS", "EvalSets", "ImagesTask", "PointsTask", "StyleTask", "Task", "TextTask",
           "register_task", "task_class", "task_for"]


def register_task(name: str, cls: type[Task], *, overwrite: bool = False) -> None:
    """Make data sources with ``task = name`` train and evaluate through ``cls``."""
    if name in TASKS and not overwrite:
        raise ConfigError(f"a task named '{name}' is already registered",
                          hint="pick another name or pass overwrite=True")
    TASKS[name] = cls


def task_class(data: Any) -> type[Task]:
    """The registered Task class of a data source (ConfigError when there is none)."""
    name = getattr(data, "task", None)
    if name not in TASKS:
        raise ConfigError(f"data '{getattr(data, 'name', data)}' names task {name!r}, which is "
                          "not registered",
                          hint=f"{did_you_mean(str(name), list(TASKS))}register it with "
                               "stablegan.tasks.register_task(name, TaskClass)")
    return TASKS[name]


def task_for(data: Any, cfg: Any) -> Task:
    """The task of ``data`` (a DataSource naming its task), built over ``cfg``."""
    return task_class(data)(data, cfg)
