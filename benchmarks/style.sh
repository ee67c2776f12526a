#!/usr/bin/env bash
# Style transfer on Yelp (issue 12): a tiny 1-seed budget on 2 CPU cores.
#
#   STABLEGAN_SHARED_DATA=/work/shared/data bash benchmarks/style.sh
#
# Every run: AE autoencoder pre-training steps, then ADV adversarial iterations (batch 64),
# evaluated on the 1,000 sentiment.manual sentences (style accuracy by a separate CNN, BLEU-4
# method4 against the human references, content BLEU vs inputs, geometric mean).
#   sweep:  nsgan latent critic, style.style_weight in WEIGHTS   -> tradeoff.png (Fig. 4)
#   extra:  wgan-gp latent critic; the authors' importance weights (style.importance=softmax)
# Resumable: finished runs (eval.json) are skipped. Results: docs/benchmarks.md ("Style transfer").
set -euo pipefail
OUT=${OUT:-runs/bench-style}
AE=${AE:-400}
ADV=${ADV:-300}
SEED=${SEED:-0}
WEIGHTS=${WEIGHTS:-0.25,1,4}
JOBS=${JOBS:-2}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--recipe yelp-style --steps "$ADV" --seed "$SEED" --quiet
        --set style.autoencoder_steps="$AE" --set log.tensorboard=false --set log.every=10
        --set style.tau_every=100)
run() {  # name, extra --set args...
  local name=$1; shift
  local dir="$OUT/$name"
  [ -f "$dir/eval.json" ] && return 0
  local resume=(); [ -f "$dir/checkpoints/last.pt" ] && resume=(--resume)
  python -m stablegan train "${COMMON[@]}" --out "$dir" "$@" "${resume[@]}" \
    > "$OUT/$name.log" 2>&1 || echo "run $name failed (see $OUT/$name.log)" >&2
}
mkdir -p "$OUT"
IFS=, read -ra weights <<< "$WEIGHTS"
pids=()
for w in "${weights[@]}"; do
  run "nsgan-w$w" --set method=nsgan --set style.style_weight="$w" & pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 5; done
done
run wgan-gp-w1 --set method=wgan-gp --set style.style_weight=1 & pids+=($!)
while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 5; done
run softmax-w1 --set method=nsgan --set style.importance=softmax --set style.style_weight=1 &
pids+=($!)
wait "${pids[@]}"
python benchmarks/style_summary.py "$OUT"
