"""``stablegan demo`` (what ``make demo`` runs): the flagship against its baselines, said in words.

The flagship ``ppo-gan``, the part of the method that holds up in docs/benchmarks.md
(``ppo-gan-reweight``: critic sample re-weighting alone) and the ``wgan-gp`` baseline train on
one toy recipe at equal compute (the same number of minibatch updates of all networks together),
through :func:`stablegan.compare.run_compare`. :func:`verdict` then states in two sentences,
computed from the summary, which method covers the most modes, which has the best
high-quality fraction, whether the flagship loses, which health alarms fired, and that the full
verdict is in docs/benchmarks.md; the sentences go at the end of ``summary.md`` and into
``summary.json`` as ``verdict``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FLAGSHIP = "ppo-gan"
METHODS = ("wgan-gp", FLAGSHIP, "ppo-gan-reweight")
# the gradient-penalty weight of the tuned toy benchmarks (docs/benchmarks.md), every critic
OVERRIDES = ("lipschitz.gradient_penalty.weight=1",)
BATCHES = 6000  # the ring benchmark's budget per method


def _mean(summary: dict[str, Any], method: str, key: str) -> float | None:
    stat = summary["metrics"].get(method, {}).get(key)
    return None if not stat or stat.get("mean") is None else float(stat["mean"])


def _names(methods: list[str]) -> str:
    return methods[0] if len(methods) == 1 else ", ".join(methods[:-1]) + " and " + methods[-1]


def _best(summary: dict[str, Any], key: str) -> tuple[list[str], float] | None:
    values = {m: v for m in summary["methods"] if (v := _mean(summary, m, key)) is not None}
    if not values:
        return None
    top = max(values.values())
    return [m for m, v in values.items() if v == top], top


def verdict(summary: dict[str, Any], alarms: dict[str, list[str]] | None = None,
            flagship: str = FLAGSHIP, batches: int | None = None) -> str:
    """Two sentences on what a toy comparison (``summary.json``'s dict) shows.

    The first names the method(s) covering the most modes (mean ``modes`` over seeds, "of N"
    with N the real data's own count ``floor/modes``) and with the best ``hq_fraction``, and
    says whether ``flagship`` loses: fewer modes than the best method, or as many with a lower
    HQ fraction. The second lists ``alarms`` (method -> alarm names that fired) and points to
    docs/benchmarks.md for the full verdict. ``batches``: the equal budget, when known."""
    modes, hq = _best(summary, "modes"), _best(summary, "hq_fraction")
    seeds = summary.get("seeds") or []
    budget = f"{batches:,} minibatch updates each, " if batches else ""
    runs = f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}"
    where = f"On {summary['recipe']} at equal compute ({budget}{runs})"
    if modes is None or hq is None:
        first = f"{where} no run reported mode coverage, so this comparison shows nothing yet."
    else:
        floor = _mean(summary, modes[0][0], "floor/modes")
        of = f" of {floor:.0f}" if floor is not None else ""
        one = len(modes[0]) == 1
        who = "" if hq[0] == modes[0] else f"{_names(hq[0])} "
        has = "has" if (len(hq[0]) == 1 if who else one) else "have"
        first = (f"{where}, {_names(modes[0])} cover{'s' if one else ''} the most modes "
                 f"({modes[1]:.3g}{of}) and {who}{has} the best high-quality fraction "
                 f"(HQ {hq[1]:.2f})")
        f_modes, f_hq = _mean(summary, flagship, "modes"), _mean(summary, flagship, "hq_fraction")
        if f_modes is None or f_hq is None:
            first += "."
        else:
            others = [m for m in summary["methods"] if m != flagship]
            rivals = {m: (_mean(summary, m, "modes"), _mean(summary, m, "hq_fraction"))
                      for m in others}
            beaten_by = [m for m, (mo, h) in rivals.items() if mo is not None and h is not None
                         and (mo > f_modes or (mo == f_modes and h > f_hq))]
            lost = f"loses to {_names(beaten_by)}" if beaten_by else "loses to none of them"
            first += (f"; the flagship {flagship} ({f_modes:.3g}{of} modes, HQ {f_hq:.2f}) "
                      f"{lost}.")
    fired = {m: a for m, a in (alarms or {}).items() if a}
    said = ("; ".join(f"{m} raised {_names(sorted(a))}" for m, a in fired.items())
            if fired else "no health alarm fired")
    second = (f"Health: {said}; a toy comparison of {runs} illustrates, it does not decide: the "
              "full verdict, over seeds, recipes and the ablations, is in docs/benchmarks.md.")
    return f"{first} {second}"


def fired_alarms(out: Path, summary: dict[str, Any]) -> dict[str, list[str]]:
    """Method -> the health alarms flagged (``health/<name>``) in its runs' metrics and evals."""
    found: dict[str, list[str]] = {m: [] for m in summary["methods"]}
    for key, folder in summary.get("runs", {}).items():
        method = key.rsplit("/seed", 1)[0]
        for name in ("metrics.jsonl", "evals.jsonl"):
            path = out / folder / name
            if not path.is_file():
                continue
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                for k in row if isinstance(row, dict) else ():
                    if k.startswith("health/") and k[7:] not in found.setdefault(method, []):
                        found[method].append(k[7:])
    return found


def write_verdict(out: str | Path, summary: dict[str, Any], batches: int | None = None) -> str:
    """Append :func:`verdict` to ``out/summary.md`` and store it in ``summary.json``."""
    out = Path(out)
    text = verdict(summary, fired_alarms(out, summary), batches=batches)
    summary["verdict"] = text
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    md = (out / "summary.md").read_text(encoding="utf-8")
    (out / "summary.md").write_text(md.rstrip("\n") + "\n\n## What this shows\n\n" + text + "\n",
                                    encoding="utf-8")
    return text


def run_demo(out: str | Path, recipe: str = "ring", batches: int = BATCHES) -> dict[str, Any]:
    """Train :data:`METHODS` (seed 0) on ``recipe`` at ``batches`` minibatch updates each, then
    write the summary with its verdict; returns summary.json's dict."""
    from stablegan.compare import run_compare

    summary = run_compare(recipe, list(METHODS), [0], out, batches=batches,
                          overrides=list(OVERRIDES), jobs=1, evals=10)
    write_verdict(out, summary, batches)
    return summary
