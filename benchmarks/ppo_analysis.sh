#!/usr/bin/env bash
# Where the ratio-clipped generator loses modes (docs/benchmarks.md, findings 8-11): schedule and
# learning-rate controls, settings sweeps, the detached-ratio ablation, a longer budget, and the
# same chain on digits. Each block is one resumable `stablegan compare` (rerun to continue).
#   OUT=/work/bench bash benchmarks/ppo_analysis.sh [ring|long|grid|digits|all]
set -euo pipefail
WHAT=${1:-all}
OUT=${OUT:-runs/bench}
JOBS=${JOBS:-2}
GP="+lipschitz.gradient_penalty.weight=0.1"
TOY=(--recipe ring --seeds 0,1,2 --jobs "$JOBS" --set model.hidden=128 --set data.batch_size=128)
LR5="+variational.classifier_lr_divide=true"  # the authors' G and C learning rates: lr / n_gen

if [ "$WHAT" = ring ] || [ "$WHAT" = all ]; then
  # settings at the preset learning rate; the 5:5 schedule without any ratio
  python -m stablegan compare "${TOY[@]}" --batches 12000 --out "$OUT/sweep2-ring" --methods \
"ppo-gan$GP+variational.eps=0.2,ppo-gan$GP+schedule.same_z_for_gen_steps=false,\
ppo-gan$GP+variational.advantage=normalized+variational.eps=0.2,\
ppo-gan$GP+variational.classifier_warmup=500,ppo-gan-ct$GP,wgan-gp$GP+schedule.n_gen=5" || true
  # (same_z_for_gen_steps=false is refused by design: exit 2, r compares G and G_old on one z)
  # the 5:5 schedule at G lr / 5, with fresh and with one latent batch, and clipping on top
  python -m stablegan compare "${TOY[@]}" --batches 12000 --out "$OUT/sweep2-ring-ctrl" \
    --methods "wgan-gp$GP+schedule.n_gen=5+optim.g_lr=2e-5"
  python -m stablegan compare "${TOY[@]}" --batches 12000 --out "$OUT/sweep2-ring-chain" \
    --methods "wgan-gp$GP+schedule.n_gen=5+schedule.same_z_for_gen_steps=true+optim.g_lr=2e-5,ppo-gan-clip$GP$LR5"
  python -m stablegan compare "${TOY[@]}" --batches 12000 --out "$OUT/sweep2-ring-lr5" \
    --methods "ppo-gan$GP$LR5+variational.advantage=centered,ppo-gan$GP$LR5+variational.classifier_schedule=per_phase"
  # r detached: it only masks where the clip binds
  python -m stablegan compare "${TOY[@]}" --batches 12000 --out "$OUT/sweep2-ring-detached" \
    --methods "ppo-gan$GP$LR5+variational.ratio_gradient=false,ppo-gan$GP+variational.ratio_gradient=false"
fi
if [ "$WHAT" = long ] || [ "$WHAT" = all ]; then
  python -m stablegan compare "${TOY[@]}" --batches 36000 --out "$OUT/long-ring" \
    --methods "wgan-gp$GP,ppo-gan-reweight$GP,ppo-gan$GP"
fi
if [ "$WHAT" = grid ] || [ "$WHAT" = all ]; then
  python -m stablegan compare --recipe grid --seeds 0,1,2 --jobs "$JOBS" --set model.hidden=128 \
    --set data.batch_size=128 --batches 12000 --out "$OUT/grid-chain" --methods \
"wgan-gp$GP+schedule.n_gen=5+schedule.same_z_for_gen_steps=true+optim.g_lr=2e-5,\
ppo-gan$GP$LR5,ppo-gan$GP$LR5+variational.ratio_gradient=false"
fi
if [ "$WHAT" = digits ] || [ "$WHAT" = all ]; then
  CLF="$OUT/digits_classifier.pt"
  [ -f "$CLF" ] || python -m stablegan classifier train --recipe digits --epochs 20 --out "$CLF"
  python -m stablegan compare --recipe digits --seeds 0,1,2 --batches 4000 --jobs "$JOBS" \
    --out "$OUT/digits-chain" --set eval.classifier_path="$CLF" --methods \
"wgan-gp+lipschitz.gradient_penalty.weight=5+schedule.n_gen=5+schedule.same_z_for_gen_steps=true+optim.g_lr=4e-5,\
ppo-gan$LR5,ppo-gan$LR5+variational.ratio_gradient=false"
fi
