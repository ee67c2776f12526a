"""The pre-registered search of issue 21.1 (benchmarks/oracle_cpu_search.md): its settings, the
selection rule, and the table of what each setting gave.

    python benchmarks/oracle_cpu_search.py settings [--round 2]   # one line per setting (.sh)
    python benchmarks/oracle_cpu_search.py table ROOT [--round 2] # markdown table + the choice
    python benchmarks/oracle_cpu_search.py decide ROOT [--round 2] # the chosen setting, or nothing

ROOT is the search's output folder (``OUT`` of oracle_cpu_search.sh): ``V<v>/pretrained``,
``V<v>/cmp/mle/seed<s>`` (the maximum-likelihood continuation of that start; round 2's, at its
own budget, ``V<v>-b<batches>/cmp/mle``) and ``<setting>/cmp/relgan/seed<s>``, each run with
``eval.json`` and ``wall_s`` beside its folder. Round 2 (settings F, G) was pre-registered after
round 1 had run and before any of its own runs, on fresh seeds (the .md says why).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SEEDS = (0, 1, 2)
BATCHES = 1200  # minibatch updates per run: 200 relgan iterations (5 D + 1 G) or 1,200 MLE steps
PRETRAIN = 2000  # maximum-likelihood pre-training steps of the shared start (seed 0)
EVERY = 300  # minibatch updates between periodic evaluations
SIGMAS = 3.0  # the gap must exceed this many seed standard deviations


@dataclass(frozen=True)
class Setting:
    """One point of the grid; everything else is recipe oracle-cpu's."""

    name: str
    vocab: int  # data.oracle_vocab
    beta_max: float  # model.beta_max (annealed exp from 1 over the run's iterations)
    g_lr: float  # optim.g_lr of the adversarial phase
    batches: int = BATCHES  # minibatch updates per run (relgan and mle alike)
    beta_steps: int = 0  # model.beta_steps: annealing length N (0 = the run's iterations)
    seeds: tuple[int, ...] = SEEDS

    def overrides(self) -> list[str]:
        return [f"data.oracle_vocab={self.vocab}", f"model.beta_max={self.beta_max:g}",
                f"optim.g_lr={self.g_lr:g}", f"model.beta_steps={self.beta_steps}"]

    @property
    def mle_folder(self) -> str:
        """The maximum-likelihood continuation it is compared with (shared by equal V, budget
        and seeds)."""
        same = self.batches == BATCHES and self.seeds == SEEDS
        return f"V{self.vocab}" if same else f"V{self.vocab}-b{self.batches}"


# the fixed order of the selection rule: RelGAN's published learning rate first, then beta_max
# 1000, then a 10x generator learning rate, then a smaller vocabulary
SETTINGS = (
    Setting("A", 1000, 100.0, 1e-4),
    Setting("B", 1000, 1000.0, 1e-4),
    Setting("C", 1000, 100.0, 1e-3),
    Setting("D", 1000, 1000.0, 1e-3),
    Setting("E", 500, 1000.0, 1e-3),
)

# round 2 (pre-registered after round 1, before its own runs): C and D stopped after their first
# 300 updates (50 iterations, beta on the same path: N = 200), on fresh seeds 3, 4, 5
ROUND2 = (
    Setting("F", 1000, 100.0, 1e-3, batches=300, beta_steps=200, seeds=(3, 4, 5)),
    Setting("G", 1000, 1000.0, 1e-3, batches=300, beta_steps=200, seeds=(3, 4, 5)),
)
ROUNDS = {1: SETTINGS, 2: ROUND2}

# the setting the rule chose (benchmarks/oracle_cpu_search.md, "Results"): recipe oracle-cpu's
# defaults; tests/test_oracle_cpu.py checks that the recipe holds it
CHOSEN = "F"


def chosen() -> Setting:
    """The setting named CHOSEN, of either round."""
    return {s.name: s for s in (*SETTINGS, *ROUND2)}[CHOSEN]


def _finals(runs: Path, seeds: Sequence[int]) -> tuple[list[float], list[float]]:
    """NLL_oracle of each finished seed's final generator and each run's wall seconds."""
    vals, walls = [], []
    for seed in seeds:
        ev = runs / f"seed{seed}" / "eval.json"
        if ev.is_file():
            vals.append(float(json.loads(ev.read_text())["nll_oracle"]))
            wall = runs / f"seed{seed}.wall_s"
            if wall.is_file():
                walls.append(float(wall.read_text()))
    return vals, walls


def _sd(vals: list[float]) -> float:
    return statistics.stdev(vals) if len(vals) > 1 else float("nan")


def row(setting: Setting, rel: list[float], mle: list[float], rel_wall: Sequence[float] = (),
        mle_wall: Sequence[float] = ()) -> dict[str, object]:
    """One setting's line: relgan and mle final NLL_oracle per seed -> (mean, sample std), the
    gap mle - relgan, the larger std, their ratio and whether the gap exceeds SIGMAS stds."""
    done = len(rel) == len(setting.seeds) and len(mle) == len(setting.seeds)
    out: dict[str, object] = {"setting": setting, "done": done, "n_relgan": len(rel),
                              "n_mle": len(mle)}
    if done:
        gap = statistics.mean(mle) - statistics.mean(rel)
        spread = max(_sd(rel), _sd(mle))
        out.update(relgan=(statistics.mean(rel), _sd(rel)), mle=(statistics.mean(mle),
                   _sd(mle)), gap=gap, spread=spread,
                   ratio=gap / spread if spread else float("inf"), passed=gap > SIGMAS * spread,
                   wall=(statistics.mean(rel_wall) if rel_wall else float("nan"),
                         statistics.mean(mle_wall) if mle_wall else float("nan")))
    return out


def rows(root: Path, settings: Sequence[Setting] = SETTINGS) -> list[dict[str, object]]:
    """Every setting's :func:`row` from the runs under ``root``."""
    out = []
    for s in settings:
        rel, rel_wall = _finals(root / s.name / "cmp" / "relgan", s.seeds)
        mle, mle_wall = _finals(root / s.mle_folder / "cmp" / "mle", s.seeds)
        out.append(row(s, rel, mle, rel_wall, mle_wall))
    return out


def decide(table: list[dict[str, object]], final: bool = False) -> tuple[str | None, str]:
    """The rule: the first setting in SETTINGS' order whose gap exceeds SIGMAS x the larger seed
    std; undecided (None) while an earlier setting is unfinished. With ``final`` (the search
    ended without a pass) the fallback: the finished setting with the largest gap / spread."""
    for r in table:
        if not r["done"]:
            if not final:
                return None, f"undecided: {r['setting'].name} unfinished"  # type: ignore[attr-defined]
            break
        if r["passed"]:
            return r["setting"].name, "passes"  # type: ignore[attr-defined]
    finished = [r for r in table if r["done"]]
    if final and finished:
        best = max(finished, key=lambda r: r["ratio"])  # type: ignore[arg-type, return-value]
        return best["setting"].name, "fallback: no setting passed; largest gap / spread"  # type: ignore[attr-defined]
    return None, "no setting passed yet"


def markdown(table: list[dict[str, object]]) -> str:
    lines = ["| setting | V | beta_max | g_lr | relgan NLL_oracle | mle NLL_oracle | gap (mle - "
             "relgan) | larger std | gap / std | passes (> 3 std) | wall s / run (relgan, mle) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in table:
        s: Setting = r["setting"]  # type: ignore[assignment]
        head = f"| {s.name} | {s.vocab} | {s.beta_max:g} | {s.g_lr:g} |"
        if not r["done"]:
            lines.append(head + f" not run / unfinished ({r['n_relgan']} relgan, {r['n_mle']} "
                         "mle seeds) | | | | | | |")
            continue
        (rm, rs), (mm, ms) = r["relgan"], r["mle"]  # type: ignore[misc]
        wr, wm = r["wall"]  # type: ignore[misc]
        lines.append(head + f" {rm:.3f} ± {rs:.3f} | {mm:.3f} ± {ms:.3f} | {r['gap']:.3f} | "
                     f"{r['spread']:.3f} | {r['ratio']:.1f} | {'yes' if r['passed'] else 'no'} |"
                     f" {wr:.0f}, {wm:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("what", choices=("settings", "table", "decide"))
    ap.add_argument("root", type=Path, nargs="?")
    ap.add_argument("--final", action="store_true", help="the search is over: apply the fallback")
    ap.add_argument("--round", type=int, choices=sorted(ROUNDS), default=1)
    args = ap.parse_args()
    settings = ROUNDS[args.round]
    if args.what == "settings":
        for s in settings:
            print(s.name, s.vocab, s.batches, ",".join(map(str, s.seeds)), s.mle_folder,
                  " ".join(s.overrides()))
        return
    if args.root is None:
        ap.error("ROOT is needed")
    table = rows(args.root, settings)
    chosen, why = decide(table, args.final)
    if args.what == "table":
        print(markdown(table))
        print(f"\nchosen: {chosen or '-'} ({why})")
    elif chosen:
        print(chosen)


if __name__ == "__main__":
    main()
