#!/usr/bin/env bash
# Ratio clipping, second round (docs/benchmarks.md, last section): baselines on the tuned toy
# recipes, then the full method (re-weighting + clipping) with Eq. 6 at the same x, with the
# authors' BatchNorm semantics, with the detached ratio, and with the exact ratio of a RealNVP
# generator, against wgan-gp and ppo-gan-reweight at equal minibatch updates of all networks.
# Each block is one resumable `stablegan compare` (rerun to continue). One core per run:
#   OUT=/work/bench13 SEEDS=0,1,2 JOBS=1 bash benchmarks/ratio_round2.sh [baselines|ring|control|grid|control-grid|grid-extra|all]
set -euo pipefail
WHAT=${1:-all}
OUT=${OUT:-runs/bench}
SEEDS=${SEEDS:-0,1,2}
JOBS=${JOBS:-1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
# The second round's toy setting, given in full (the ring/grid recipes now carry the tuned
# setting of benchmarks/ratio_tuned.sh, with linear decay): 3x256 MLPs, batch 256, Adam (0.5, 0.9),
# lr 3e-4 (ring) or 1e-3 (grid) for every network, no decay. Budgets keep one run near 1-2 minutes
# on one core.
tuned() {  # recipe -> its --set overrides
  local lr; lr=$([ "$1" = ring ] && echo 3e-4 || echo 1e-3)
  echo "--set model.hidden=256 --set data.batch_size=256 --set optim.betas=[0.5,0.9]" \
       "--set optim.g_lr=$lr --set optim.d_lr=$lr --set optim.c_lr=$lr --set optim.lr_decay=none"
}
BATCHES_RING=${BATCHES_RING:-6000}
BATCHES_GRID=${BATCHES_GRID:-12000}
LR5="+variational.classifier_lr_divide=true"   # G and C at lr / n_gen in the 5:5 schedule
SAME="+variational.ratio=classifier_same_x"     # (1) Eq. 6 as printed
AUTH="+variational.classifier_bn=authors"       # (2) C's BatchNorm as the authors ran it
DET="+variational.ratio_gradient=false+variational.advantage=centered+variational.eps=${DET_EPS:-0.4}"
FLOW="+model.name=flow+model.flow_layers=6+variational.ratio=exact+variational.advantage=normalized+variational.eps=0.2"

methods() {  # the gradient-penalty weight: 0.1 on the ring (Gulrajani et al.'s toys), 1 on the grid
  local GP="+lipschitz.gradient_penalty.weight=$1" FULL
  FULL="ppo-gan$GP$LR5"
  echo "wgan-gp$GP,ppo-gan-reweight$GP,$FULL$SAME,$FULL$AUTH,$FULL$SAME$DET,$FULL$FLOW"
}
run() {  # recipe, batches, methods, out
  # shellcheck disable=SC2046
  python -m stablegan compare --recipe "$1" --batches "$2" --methods "$3" --seeds "$SEEDS" \
    --jobs "$JOBS" --out "$4" $(tuned "$1")
}
if [ "$WHAT" = baselines ] || [ "$WHAT" = all ]; then
  run ring "$BATCHES_RING" "nsgan" "$OUT/round2-baselines-ring"
  run grid "$BATCHES_GRID" "nsgan" "$OUT/round2-baselines-grid"
fi
if [ "$WHAT" = ring ] || [ "$WHAT" = all ]; then
  run ring "$BATCHES_RING" "$(methods 0.1)" "$OUT/round2-ring"
fi
if [ "$WHAT" = grid ] || [ "$WHAT" = all ]; then
  # wgan-gp, the full method with the detached ratio, ppo-gan-reweight: one seed at a time so
  # that a cut-short session still has paired runs (what fitted in the second round's time)
  for S in ${SEEDS//,/ }; do
    # shellcheck disable=SC2046
    python -m stablegan compare --recipe grid --batches "$BATCHES_GRID" --seeds "$S" \
      --methods "$(methods 1 | cut -d, -f1,5,2)" --jobs "$JOBS" --out "$OUT/round2-grid-s$S" \
      $(tuned grid)
  done
fi
if [ "$WHAT" = control ] || [ "$WHAT" = all ]; then
  # the detached ratio's schedule without any ratio: re-weighted critic, 5 G steps on one z at
  # G lr / 5, no classifier, no clip (ring lr 3e-4 / 5, grid 1e-3 / 5)
  C55="+schedule.n_gen=5+schedule.same_z_for_gen_steps=true"
  run ring "$BATCHES_RING" "ppo-gan-reweight+lipschitz.gradient_penalty.weight=0.1$C55+optim.g_lr=6e-5" \
    "$OUT/round2-control-ring"
fi
if [ "$WHAT" = control-grid ] || [ "$WHAT" = all ]; then
  C55="+schedule.n_gen=5+schedule.same_z_for_gen_steps=true"
  run grid "$BATCHES_GRID" "ppo-gan-reweight+lipschitz.gradient_penalty.weight=1$C55+optim.g_lr=2e-4" \
    "$OUT/round2-control-grid"
fi
if [ "$WHAT" = grid-extra ]; then  # Eq. 6 at the same x and the authors' BatchNorm on the grid
  run grid "$BATCHES_GRID" "$(methods 1 | cut -d, -f3,4)" "$OUT/round2-grid-extra"
fi
if [ "$WHAT" = grid-all ]; then  # every method of the ring table (not run in the second round)
  run grid "$BATCHES_GRID" "$(methods 1)" "$OUT/round2-grid"
fi
