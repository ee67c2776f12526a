#!/usr/bin/env bash
# Text benchmarks (issue 11): the oracle (length 20) and COCO captions at equal compute.
#
#   bash benchmarks/text.sh oracle     # MLE, RelGAN (RSGAN), WGAN-GP, ppo-gan (classifier ratio),
#   bash benchmarks/text.sh coco       #   ppo-gan (exact ratio) from ONE pre-trained generator
#
# 1. one MLE pre-training run (seed 0, PRETRAIN steps, no adversarial steps) gives the generator
#    every method starts from (pretrain.init_from);
# 2. every method then gets BATCHES minibatch updates of all its networks together (critic +
#    generator + ratio classifier; `stablegan compare --batches`), for each seed in SEEDS; "mle"
#    continues maximum likelihood for BATCHES steps instead;
# 3. text_summary.py tabulates eval.json (mean +- std over seeds) and the evaluation curves.
# Resumable: rerun the same command to continue. Results: docs/benchmarks.md ("Text").
# METHODS (comma-separated compare specs) runs a subset, e.g. only the exact-ratio row (with
# MLE=0, no maximum-likelihood continuation);
# BETA_STEPS is RelGAN's annealing length N (model.beta_steps, default 5000 as published; the
# docs' rows before issue 18 ran with N = the run's adversarial steps: BETA_STEPS=0).
set -euo pipefail
WHAT=${1:-oracle}
OUT=${OUT:-runs/bench-text}
SEEDS=${SEEDS:-0,1,2}
JOBS=${JOBS:-2}
DATA=${DATA:-../shared/data/text/coco}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
case "$WHAT" in
  oracle) RECIPE=oracle; PRETRAIN=${PRETRAIN:-1000}; BATCHES=${BATCHES:-240}; EXTRA=() ;;
  coco)   RECIPE=coco; PRETRAIN=${PRETRAIN:-600}; BATCHES=${BATCHES:-120}
          EXTRA=(--set "data.path=$DATA") ;;
  *) echo "usage: $0 oracle|coco" >&2; exit 2 ;;
esac
EVERY=${EVERY:-10}
BETA_STEPS=${BETA_STEPS:-5000}
COMMON=(--set log.progress=false --set log.tensorboard=false --set eval.n_samples=500
        --set "model.beta_steps=$BETA_STEPS" "${EXTRA[@]}")
PRE="$OUT/$WHAT/pretrained"
if [ ! -f "$PRE/eval.json" ]; then
  resume=(); [ -f "$PRE/checkpoints/last.pt" ] && resume=(--resume)
  python -m stablegan train --recipe "$RECIPE" --steps 0 --seed 0 --out "$PRE" \
    --set pretrain.steps="$PRETRAIN" "${COMMON[@]}" "${resume[@]}"
fi
FROM=(--set "pretrain.init_from=$PRE" --set pretrain.steps=0 --set eval.every="$EVERY")
# MLE at equal compute: BATCHES more maximum-likelihood steps from the same generator
IFS=, read -ra seeds <<< "$SEEDS"
[ "${MLE:-1}" = 1 ] || seeds=()  # MLE=0: no maximum-likelihood continuation
for seed in "${seeds[@]}"; do
  dir="$OUT/$WHAT/cmp/mle/seed$seed"
  if [ ! -f "$dir/eval.json" ]; then
    rm -rf "$dir"
    python -m stablegan train --recipe "$RECIPE" --steps 0 --seed "$seed" --out "$dir" \
      --set "pretrain.init_from=$PRE" --set pretrain.steps="$BATCHES" "${COMMON[@]}" &
    if [ "$JOBS" -le 1 ]; then wait; fi
  fi
done
wait
# ppo-gan on the text recipes: the classifier ratio at the same x (r = 1 at theta_old, issue 18.6)
METHODS=${METHODS:-"relgan,wgan-gp,ppo-gan+schedule.n_gen=1,ppo-gan+variational.ratio=exact+variational.advantage=centered"}
python -m stablegan compare --recipe "$RECIPE" --methods "$METHODS" --seeds "$SEEDS" \
  --batches "$BATCHES" --jobs "$JOBS" --out "$OUT/$WHAT/cmp" "${COMMON[@]}" "${FROM[@]}"
python benchmarks/text_summary.py "$OUT/$WHAT"
