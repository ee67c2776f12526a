#!/usr/bin/env bash
# Same seed, same numbers: short runs at a base commit and at the working tree, compared.
#
#   bash benchmarks/same_numbers.sh [BASE_REV]     (default BASE_REV: 98c1492, before the
#                                                   composed Trainer of issue 20)
# Runs ring (nsgan, wgan-gp, ppo-gan, ppo-gan-authors), grid (ppo-gan-reweight), digits (wgan-gp,
# cgan-ppo), the oracle (relgan and ppo-gan: MLE pre-training, then adversarial), coco (relgan)
# and yelp-style (nsgan and ppo-gan: autoencoder, then adversarial with the sentence critic; on a
# small balanced subset of the shared Yelp data) with the same seeds and
# budgets under both trees (one torch thread each), then compares every row of metrics.jsonl
# (all keys the base wrote, except the wall-clock time/sec) and eval.json. Prints one line per
# run and exits 1 on any difference. OUT (default /tmp/same_numbers) holds the runs; ONLY=a,b
# runs only the named runs. SHARED (default ../shared/data beside the checkout) holds the text
# data; the text runs are skipped with a note when it is absent.
set -euo pipefail
BASE=${1:-98c1492}
OUT=${OUT:-/tmp/same_numbers}
ROOT=${ROOT:-$(cd "$(dirname "$0")/.." && pwd)}  # the git checkout holding BASE
NEW=${NEW:-$ROOT}  # the tree to compare with the base (default: this working tree)
rm -rf "$OUT"; mkdir -p "$OUT"
mkdir -p "$OUT/base-tree"  # the base's files (git archive: no worktree to clean up)
git -C "$ROOT" archive "$BASE" | tar -x -C "$OUT/base-tree"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON="--set log.progress=false --set log.tensorboard=false"
# the ring/grid recipes were retuned in issue 13; their earlier settings (ring-small/grid-small
# today) are passed in full, so both trees run the same configuration whatever the base
TOY="--set model.hidden=128 --set optim.g_lr=1e-4 --set optim.d_lr=1e-4 --set optim.c_lr=1e-4
     --set optim.betas=[0.5,0.999] --set optim.lr_decay=none"
RING="--recipe ring --set data.batch_size=128 $TOY"
GRID="--recipe grid --set data.batch_size=256 $TOY"
RUNS=(
  "ring-nsgan|$RING --set method=nsgan --steps 300 --set eval.every=100 --set eval.n_samples=500"
  "ring-wgan-gp|$RING --set method=wgan-gp --steps 150 --set eval.n_samples=500"
  "ring-ppo-gan|$RING --set method=ppo-gan --steps 80 --set eval.n_samples=500"
  "ring-ppo-gan-authors|$RING --set method=ppo-gan-authors --steps 40 --set eval.n_samples=500"
  "grid-ppo-gan-reweight|$GRID --set method=ppo-gan-reweight --steps 100 --set eval.n_samples=500"
  "digits-wgan-gp|--recipe digits --set method=wgan-gp --steps 40 --set eval.n_samples=300"
  "digits-cgan-ppo|--recipe digits --set method=cgan-ppo --steps 10 --set eval.n_samples=300"
)
SHARED=${SHARED:-$ROOT/../shared/data}
TEXT="--set pretrain.steps=20 --set log.every=5 --set eval.n_samples=100
      --set eval.bleu_hypotheses=20 --set eval.self_bleu_hypotheses=20"
if [ -f "$SHARED/text/coco/train.txt" ] && [ -f "$SHARED/text/yelp/sentiment.dev.text" ]; then
  # a balanced Yelp subset: the first 600 negative and 600 positive training sentences, the
  # first 50 + 50 test sentences with their references
  YELP="$OUT/yelp-subset"; mkdir -p "$YELP"
  python - "$SHARED/text/yelp" "$YELP" <<'PY'
import sys
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for split, n, parts in (("dev", 600, ("text",)), ("manual", 50, ("text", "reference"))):
    labels = (src / f"sentiment.{split}.labels").read_text().splitlines()
    cols = {p: (src / f"sentiment.{split}.{p}").read_text().splitlines() for p in parts}
    keep, seen = [], {}
    for i, lab in enumerate(labels):
        if seen.get(lab, 0) < n:
            seen[lab] = seen.get(lab, 0) + 1
            keep.append(i)
    (dst / f"sentiment.{split}.labels").write_text("".join(labels[i] + "\n" for i in keep))
    for p, lines in cols.items():
        (dst / f"sentiment.{split}.{p}").write_text("".join(lines[i] + "\n" for i in keep))
PY
  RUNS+=(
    "oracle-relgan|--recipe oracle --steps 10 $TEXT"
    "oracle-ppo-gan|--recipe oracle --set method=ppo-gan --steps 4 $TEXT"
    "coco-relgan|--recipe coco --set data.path=$SHARED/text/coco --steps 10 $TEXT"
    "yelp-style-nsgan|--recipe yelp-style --set data.path=$YELP --steps 10
      --set style.autoencoder_steps=30 --set log.every=5 --set eval.n_samples=100
      --set style.eval_max_sentences=100 --set style.eval_classifier_epochs=1"
    "yelp-style-ppo-gan|--recipe yelp-style --set method=ppo-gan --set data.path=$YELP --steps 4
      --set style.autoencoder_steps=30 --set log.every=2 --set eval.n_samples=100
      --set style.eval_max_sentences=100 --set style.eval_classifier_epochs=1"
  )
else
  echo "note: no text data under $SHARED (SHARED=DIR): oracle, coco and yelp-style skipped" >&2
fi
if [ -n "${ONLY:-}" ]; then
  keep=(); for spec in "${RUNS[@]}"; do
    [[ ",$ONLY," == *",${spec%%|*},"* ]] && keep+=("$spec"); done
  RUNS=("${keep[@]}")
fi
for tree in base new; do
  src=$NEW; [ $tree = base ] && src="$OUT/base-tree"
  mkdir -p "$OUT/$tree"
  for spec in "${RUNS[@]}"; do
    name=${spec%%|*}; args=${spec#*|}
    # shellcheck disable=SC2086
    (cd "$src" && STABLEGAN_CACHE_DIR="$OUT/cache-$tree" PYTHONPATH="$src" python -m stablegan train $args $COMMON \
        --out "$OUT/$tree/$name" > "$OUT/$tree/$name.log" 2>&1) || {
      echo "$tree $name failed:"; tail -5 "$OUT/$tree/$name.log"; exit 1; }
  done
done
python - "$OUT" "${RUNS[@]}" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1]); bad = 0
def rows(p): return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
# descriptive keys whose presence changed on purpose: points name no "extractor" any more, and
# evaluations gained "feature_extractors" (which network made the numbers); every number is
# still compared, these are reported apart
DESCRIPTIVE = {"extractor", "feature_extractors",
               "health/mode_coverage"}  # the coverage alarm's flag on an evaluation (issue 19.5)
def numbers(rs): return [{k: v for k, v in r.items() if k not in DESCRIPTIVE} for r in rs]
for spec in sys.argv[2:]:
    name = spec.split("|")[0]
    b, n = out / "base" / name, out / "new" / name
    rb, rn = rows(b / "metrics.jsonl"), rows(n / "metrics.jsonl")
    diffs, added = [], set()
    # rows matched by (phase, step): the new tree may log extra rows (a health alarm's row)
    by_step = {(r.get("phase"), r.get("step")): r for r in rn}
    extra = sorted(set(by_step) - {(r.get("phase"), r.get("step")) for r in rb}, key=str)
    for x in rb:
        y = by_step.get((x.get("phase"), x.get("step")))
        if y is None:
            diffs.append(f"step {x.get('step')}: row missing")
            continue
        added |= set(y) - set(x)
        for k in x:
            if k != "time/sec" and x[k] != y.get(k, "<missing>"):
                diffs.append(f"step {x.get('step')} {k}: {x[k]!r} vs {y.get(k, '<missing>')!r}")
    eb, en = json.loads((b / "eval.json").read_text()), json.loads((n / "eval.json").read_text())
    for e, d in ((eb, b), (en, n)):  # file paths name the run directory: compare them within it
        if "classifier" in e:
            e["classifier"] = str(Path(e["classifier"]).relative_to(d))
    described = sorted(k for k in DESCRIPTIVE if eb.get(k) != en.get(k))
    for k in sorted((set(eb) | set(en)) - DESCRIPTIVE):
        if eb.get(k, "<missing>") != en.get(k, "<missing>"):
            diffs.append(f"eval.json {k}: {eb.get(k, '<missing>')!r} vs {en.get(k, '<missing>')!r}")
    for f in ("evals.jsonl",):
        if (b / f).exists() and numbers(rows(b / f)) != numbers(rows(n / f)):
            diffs.append(f"{f} differs")
    keys = len(rb[0]) if rb else 0
    status = "identical" if not diffs else f"DIFFERENT ({len(diffs)}): " + "; ".join(diffs[:5])
    extra = (f"; keys added: {sorted(added)}" if added else "") + (
        f"; extra rows at steps {[st for _, st in extra]}" if extra else "")
    extra += f"; descriptive keys changed: {described}" if described else ""
    print(f"{name}: {len(rb)} rows x {keys} keys, eval.json {len(eb)} keys: {status}{extra}")
    bad += bool(diffs)
sys.exit(1 if bad else 0)
PY
