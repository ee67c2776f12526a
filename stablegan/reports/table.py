"""Numbers for people: display scales and the short aligned table printed at the end of a run.

The values in ``eval.json``, ``evals.jsonl`` and ``summary.json`` are never rescaled (old runs stay
comparable). Only what is shown is: KID appears ×10³, the scale the literature reports it in
(Bińkowski et al. 2018; e.g. "KID ×10³ = 12.3"), with the unit in its label.
"""

from __future__ import annotations

import math
from typing import Any

#: metric name (the part before ``/<space>``) -> (factor, unit label) for display only
DISPLAY_SCALE: dict[str, tuple[float, str]] = {"kid": (1e3, "×10³"), "kid_std": (1e3, "×10³")}
#: keys that describe the setup, not the generator: shown under the table, not in it
_SETUP_PREFIXES = ("num_classes/", "memorisation_threshold/")


def display(key: str, value: Any) -> tuple[str, Any]:
    """``(label, value)`` as shown to a person: ``("kid/classifier ×10³", 12.3)`` for
    ``("kid/classifier", 0.0123)``; other keys unchanged."""
    base = key.removeprefix("floor/").split("/", 1)[0]
    if base in DISPLAY_SCALE and isinstance(value, (int, float)) and not isinstance(value, bool):
        factor, unit = DISPLAY_SCALE[base]
        return f"{key} {unit}", value * factor
    return key, value


def fmt(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def result_table(result: dict[str, Any], max_sentences: int = 5) -> str:
    """The final evaluation as an aligned table (metric, value, floor), then the sample count,
    the feature extractor and up to ``max_sentences`` generated sentences (text runs)."""
    rows = []
    for key, value in result.items():
        if (key.startswith("floor/") or key in ("step", "n_eval") or key.startswith(_SETUP_PREFIXES)
                or isinstance(value, bool) or not isinstance(value, (int, float))):
            continue
        label, shown = display(key, value)
        floor = result.get(f"floor/{key}")
        rows.append((label, fmt(shown), fmt(display(key, floor)[1]) if floor is not None else ""))
    head = ("metric", "value", "floor")
    w = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
    lines = [f"{head[0]:<{w[0]}}  {head[1]:>{w[1]}}  {head[2]:>{w[2]}}".rstrip(),
             f"{'-' * w[0]}  {'-' * w[1]}  {'-' * w[2]}"]
    lines += [f"{a:<{w[0]}}  {b:>{w[1]}}  {c:>{w[2]}}".rstrip() for a, b, c in rows]
    extra = []
    if "n_eval" in result:
        extra.append(f"{result['n_eval']} samples per set")
    if "extractor" in result:
        extra.append(f"features: {result['extractor']}")
    prov = result.get("feature_extractors")
    if isinstance(prov, dict):
        for space, info in prov.items():
            if isinstance(info, dict) and info.get("sha256"):
                acc = info.get("test_accuracy")
                extra.append(f"{space} sha256 {info['sha256']}"
                             + (f", test accuracy {acc:.3f}" if isinstance(acc, float) else ""))
    if extra:
        lines.append("(" + "; ".join(extra) + "; floor: real vs real, what a perfect generator "
                     "scores; eval.json has every key)")
    if isinstance(result.get("misassigned"), str):  # conditional runs: the AC-GAN failure
        lines.append(f"misassigned classes (samples the domain classifier assigns to another "
                     f"class): {result['misassigned']}")
    sentences = result.get("samples")
    if isinstance(sentences, list) and sentences:
        lines += ["", "sample sentences:"] + [f"  {s}" for s in sentences[:max_sentences]]
    return "\n".join(lines)
