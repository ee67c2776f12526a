"""The task registry: task name -> Task class, and the lookup of a data source's task.

The registry imports no task: the built-in ones are registered by :mod:`stablegan.tasks`
(``points``, ``images``, ``text``, ``style``), so modules below the task implementations (the
domain classifier, the image extractors) can look a task up without importing them all.
"""

from __future__ import annotations

from typing import Any

from stablegan.errors import ConfigError
from stablegan.tasks.base import Task, did_you_mean

TASKS: dict[str, type[Task]] = {}

__all__ = ["TASKS", "register_task", "task_class", "task_for"]


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
