#!/usr/bin/env bash
# Ratio clipping on the tuned recipes (docs/benchmarks.md, "Ratio clipping, second round", part
# "On the tuned recipes"): every method at equal minibatch updates of all networks on the ring,
# the grid and digits, with the recipes' own settings (ring/grid: MLPs 3x256, batch 256, Adam
# (0.5, 0.9) at 1e-3 for G, D and C; the ring decays linearly to 0), plus the eps / classifier-lr sweep that
# puts the clip into PPO's range. Each block is one resumable `stablegan compare` (rerun to continue):
#   OUT=/work/bench-ratio2 SEEDS=0,1,2 JOBS=1 bash benchmarks/ratio_tuned.sh ring|grid|grid-flow|digits|sweep|sweep-exact|inrange|control
set -euo pipefail
WHAT=${1:?usage: $0 ring|grid|grid-flow|digits|sweep|sweep-exact|inrange|control}
OUT=${OUT:-runs/bench}
SEEDS=${SEEDS:-0,1,2}
JOBS=${JOBS:-1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
BATCHES_RING=${BATCHES_RING:-6000}
BATCHES_GRID=${BATCHES_GRID:-12000}
BATCHES_DIGITS=${BATCHES_DIGITS:-3000}
LR5="+variational.classifier_lr_divide=true"   # G and C at lr / n_gen in the 5:5 schedule
SAME="+variational.ratio=classifier_same_x"     # (1) Eq. 6 as printed
AUTH="+variational.classifier_bn=authors"       # (2) C's BatchNorm as the authors ran it
DET="+variational.ratio_gradient=false+variational.advantage=centered"
FLOW="+model.name=flow+model.flow_layers=6+variational.ratio=exact+variational.advantage=normalized"
C55="+schedule.n_gen=5+schedule.same_z_for_gen_steps=true"

methods() {  # GP weight (1 on the toys: the pilots, 10 on digits), "2d" adds nsgan and the flow
  local GP="+lipschitz.gradient_penalty.weight=$1" FULL list
  FULL="ppo-gan$GP$LR5"
  list="wgan-gp$GP,ppo-gan-reweight$GP,$FULL$SAME,$FULL$AUTH,$FULL$SAME$DET+variational.eps=0.4"
  [ "$2" = 2d ] && list="nsgan,$list,$FULL$FLOW+variational.eps=0.2"
  echo "$list"
}
run() {  # recipe, batches, methods, out, extra compare args...
  local r=$1 b=$2 m=$3 o=$4; shift 4
  python -m stablegan compare --recipe "$r" --batches "$b" --methods "$m" --seeds "$SEEDS" \
    --jobs "$JOBS" --out "$o" "$@"
}
case "$WHAT" in
  ring) run ring "$BATCHES_RING" "$(methods 1 2d)" "$OUT/tuned-ring" ;;
  grid)  # wgan-gp, ppo-gan-reweight and the detached ratio on this grid recipe ran in the second
    # round (ratio_round2.sh grid, its settings = this recipe's): the other methods here
    run grid "$BATCHES_GRID" "$(methods 1 2d | cut -d, -f1,4,5)" "$OUT/tuned-grid" ;;
  grid-flow)  # the exact ratio on the grid (3 seeds, about 133 s each)
    run grid "$BATCHES_GRID" "$(methods 1 2d | cut -d, -f7)" "$OUT/tuned-grid-flow" ;;
  digits)  # the evaluation classifier of the "Evaluation (digits)" section (20 epochs, seed 0)
    clf="$OUT/digits_classifier.pt"
    [ -f "$clf" ] || python -m stablegan classifier train --recipe digits --epochs 20 --out "$clf"
    run digits "$BATCHES_DIGITS" "$(methods 10 image)" "$OUT/tuned-digits" \
      --set "eval.classifier_path=$clf" ;;
  sweep)  # the detached ratio: C's learning rate (before the / 5) and eps, ring
    GP="+lipschitz.gradient_penalty.weight=1"; list=""
    # (the first four ran first; 1.7e-4 / 0.2 was chosen from them to land in PPO's range)
    for ce in 3e-4:0.2 1e-4:0.2 3e-5:0.2 1e-4:0.1 1.7e-4:0.2; do
      list="$list,ppo-gan$GP$LR5$SAME$DET+variational.eps=${ce#*:}+optim.c_lr=${ce%:*}"
    done
    run ring "$BATCHES_RING" "${list#,}" "$OUT/sweep-detached-ring" ;;
  sweep-exact)  # the exact ratio of the RealNVP: G's learning rate (before the / 5), eps 0.2, ring
    # (the ring table's flow row is the third point, g_lr 1e-3)
    GP="+lipschitz.gradient_penalty.weight=1"; list=""
    for ge in 1e-4:0.2 3e-4:0.2; do
      list="$list,ppo-gan$GP$LR5$FLOW+variational.eps=${ge#*:}+optim.g_lr=${ge%:*}"
    done
    run ring "$BATCHES_RING" "${list#,}" "$OUT/sweep-exact-ring" ;;
  inrange)  # the sweep's in-range point with 3 seeds (seed 0 can be copied from the sweep)
    run ring "$BATCHES_RING" \
      "ppo-gan+lipschitz.gradient_penalty.weight=1$LR5$SAME$DET+variational.eps=0.2+optim.c_lr=1.7e-4" \
      "$OUT/tuned-ring-inrange" ;;
  control)  # the 5:5 schedule on one z at G lr / 5, re-weighted critic, no ratio, no clip
    run ring "$BATCHES_RING" "ppo-gan-reweight+lipschitz.gradient_penalty.weight=1$C55+optim.g_lr=2e-4" \
      "$OUT/tuned-control-ring" ;;
  *) echo "usage: $0 ring|grid|grid-flow|digits|sweep|sweep-exact|inrange|control" >&2; exit 2 ;;
esac
