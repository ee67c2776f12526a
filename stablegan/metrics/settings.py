"""Checks of the ``eval.*`` settings that need no data: metric names (against the metric
registry) and extractor names (against the extractor registry), and the keys a set of metrics
can produce in each feature space.

They sit beside the registries, below the tasks (which list their possible keys with them) and
below config resolution (:mod:`stablegan.configure`, which rejects a typo when the config is
built, not after training).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from stablegan.errors import ConfigError
from stablegan.metrics.api import METRICS
from stablegan.metrics.features import available_extractors
from stablegan.metrics.registry import expand, get_metric

__all__ = ["check_eval_config", "check_eval_extractor", "check_eval_metrics",
           "feature_space_keys", "metric_list"]


def metric_list(metrics: Sequence[str] | str) -> list[str]:
    """``eval.metrics`` with aliases expanded, in order, without repeats (ConfigError naming
    ``eval.metrics`` for an unknown name)."""
    return expand(metrics, "eval.metrics")


def check_eval_metrics(metrics: Sequence[str]) -> None:
    """ConfigError naming ``eval.metrics`` for a metric the registry does not know."""
    metric_list(metrics)


def check_eval_extractor(name: str) -> None:
    """ConfigError naming ``eval.extractor`` unless it is ``auto`` or a registered extractor."""
    choices = ["auto", *available_extractors()]
    if name not in choices:
        close = difflib.get_close_matches(str(name), choices, n=1)
        guess = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"config key 'eval.extractor' must be one of {', '.join(choices)}; got '{name}'",
            hint=f"{guess}register your own with stablegan.metrics.register_extractor(name, "
                 "factory) before building the config")


def check_eval_config(ecfg: Any) -> None:
    """The eval.* names that need no data: metric and extractor names."""
    check_eval_metrics(ecfg.metrics)
    check_eval_extractor(ecfg.extractor)


def feature_space_keys(ecfg: Any, metrics: Sequence[str]) -> set[str]:
    """``<key>/<space>`` for every output key of ``metrics`` (empty: every feature-space metric)
    in every space an evaluation with ``ecfg`` can use (a superset: which appear can depend on
    what is on disk when ``eval.extractor=auto``)."""
    spaces = {"classifier"}  # class metrics are judged by the domain classifier
    if ecfg.extractor == "auto":
        spaces.update(available_extractors())
    else:
        spaces.add(ecfg.extractor)
    names = [m for m in (metrics or METRICS) if get_metric(m).needs != "modes"]
    return {f"{k}/{s}" for m in names for k in get_metric(m).output_keys for s in spaces}
