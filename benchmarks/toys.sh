#!/usr/bin/env bash
# Toy benchmarks on the 8-Gaussian ring and the 25-Gaussian grid (PacGAN protocol, 2,500 samples).
# Every method gets the same compute: BATCHES minibatch updates of all its networks together
# (critic + generator + ratio classifier). Results: docs/benchmarks.md. Resumable: rerun to continue.
# Runs on ring-small / grid-small, the recipes' settings before issue 13 tuned ring and grid.
#   bash benchmarks/toys.sh baselines   # issue 2: nsgan, wgan-gp, ct-gan, sngan
#   bash benchmarks/toys.sh ablation    # issue 3: wgan-gp vs the ppo-gan family
set -euo pipefail
WHAT=${1:-baselines}
OUT=${OUT:-runs/bench}
SEEDS=${SEEDS:-0,1,2}
BATCHES=${BATCHES:-12000}
JOBS=${JOBS:-2}
# A 3x128 MLP and batch 128 keep a run near two minutes on one core; the gradient-penalty weight
# of Gulrajani et al.'s toy experiments (0.1) for every critic with a gradient penalty.
COMMON=(--set model.hidden=128 --set data.batch_size=128)
GP="+lipschitz.gradient_penalty.weight=0.1"
case "$WHAT" in
  baselines) METHODS="nsgan,wgan-gp$GP,ct-gan$GP,sngan" ;;
  ablation)  METHODS="wgan-gp$GP,ppo-gan-reweight$GP,ppo-gan-clip$GP,ppo-gan$GP,ppo-gan$GP+variational.clip_mode=reference,ppo-gan$GP+variational.classifier_lr_divide=true" ;;
  *) echo "usage: $0 baselines|ablation" >&2; exit 2 ;;
esac
for RECIPE in ring-small grid-small; do  # the recipes as they were (ring/grid are now tuned)
  # the wgan-gp baseline is the same config in both sets: reuse finished runs instead of rerunning
  base="$OUT/baselines-$RECIPE/wgan-gp_lipschitz.gradient_penalty.weight=0.1"
  dest="$OUT/$WHAT-$RECIPE/wgan-gp_lipschitz.gradient_penalty.weight=0.1"
  if [ "$WHAT" = ablation ] && [ -d "$base" ] && [ ! -d "$dest" ]; then
    mkdir -p "$(dirname "$dest")" && cp -rp "$base" "$dest"
  fi
  python -m stablegan compare --recipe "$RECIPE" --methods "$METHODS" --seeds "$SEEDS" \
    --batches "$BATCHES" --jobs "$JOBS" --out "$OUT/$WHAT-$RECIPE" "${COMMON[@]}"
done
