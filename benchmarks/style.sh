#!/usr/bin/env bash
# Style transfer on Yelp (issue 12), sized for 2 shared CPU cores.
#
#   STABLEGAN_SHARED_DATA=/work/shared/data OUT=/work/bench-style2/runs bash benchmarks/style.sh
#
# 1. One autoencoder per seed (ae-sSEED): AE teacher-forced reconstruction steps alone
#    (--steps 0), decoder attention on; its eval.json is the "autoencoder only" row.
# 2. Every objective's adversarial phase starts from that autoencoder (pretrain.init_from: G
#    and the model's own classifier C; the latent critic D and the sentence critic S start
#    fresh; the evaluation CNN of the seed is copied, so it is trained once per seed):
#      nsgan    the baseline's classic (non-saturating) objective, 1:1, ADV iterations
#      wgan-gp  WGAN-GP (lambda 10), 5 critic steps per generator step, ADV iterations
#      ppo-gan  the variational method: re-weighting of fakes in both critics (Eqs. 7-8) and
#               ratio clipping on the encoder/decoder side (Eq. 5), WGAN-GP (lambda 5), 5:5, run
#               for ADV / 5 iterations so that G takes as many steps as in the others
#      softmax  the authors' released variant: nsgan critics, importance weights B softmax(d)
#               (no gradient) on the generator's critic losses, no clipping
#      prior    (not in the default OBJECTIVES) nsgan with the latent adversary of before
#               issue 18: prior matching (style.adversary=prior)
#    the latent adversary is ADVERSARY (default style: D predicts the style from z, the encoder
#    fools it; prior: codes vs N(0, I)), all with the auxiliary sentence critic (style.sentence_critic=true) and SENTENCE_CRITIC
#    to switch it off; Gumbel temperature halved every TAU generator steps.
# 3. The trade-off sweep: nsgan at style.style_weight in WEIGHTS, seed SWEEP_SEED
#    (the weight-1 point is the nsgan run of that seed).
# 4. Optional (NOATT=1): the autoencoder without attention, seed 0, for the with/without row.
# Evaluation: the 1,000 sentiment.manual sentences. Resumable: finished runs (eval.json) are
# skipped, interrupted ones resumed. Then benchmarks/style_summary.py tabulates everything.
set -euo pipefail
OUT=${OUT:-runs/bench-style}
AE=${AE:-2000}
ADV=${ADV:-200}
TAU=${TAU:-50}
SEEDS=${SEEDS:-0,1,2}
OBJECTIVES=${OBJECTIVES:-nsgan,wgan-gp,ppo-gan,softmax}
WEIGHTS=${WEIGHTS:-0.25,4}
SWEEP_SEED=${SWEEP_SEED:-0}
SENTENCE_CRITIC=${SENTENCE_CRITIC:-true}
NOATT=${NOATT:-0}
STAGE=${STAGE:-all}  # all | ae (the autoencoders only)
JOBS=${JOBS:-1}
ADVERSARY=${ADVERSARY:-style}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--recipe yelp-style --quiet --set log.tensorboard=false --set log.every=10
        --set style.attention=true)
run() {  # name, extra args...
  local name=$1; shift
  local dir="$OUT/$name"
  [ -f "$dir/eval.json" ] && return 0
  local resume=(); [ -f "$dir/checkpoints/last.pt" ] && resume=(--resume)
  python -m stablegan train "${COMMON[@]}" --out "$dir" "$@" "${resume[@]}" \
    > "$OUT/$name.log" 2>&1 || echo "run $name failed (see $OUT/$name.log)" >&2
}
ae() {  # seed [extra args]
  local seed=$1; shift
  run "ae${SUFFIX:-}-s$seed" --steps 0 --seed "$seed" --set style.autoencoder_steps="$AE" \
    --set log.every=50 --set log.checkpoint_every=500 "$@"
}
adv() {  # name seed objective [extra args]
  local name=$1 seed=$2 objective=$3; shift 3
  local init="$OUT/ae-s$seed"
  while [ ! -f "$init/eval.json" ]; do sleep 20; done  # its autoencoder first
  mkdir -p "$OUT/$name"
  [ -f "$OUT/$name/style_classifier.pt" ] || cp "$init/style_classifier.pt" "$OUT/$name/"
  local steps=$ADV tau=$TAU set=()
  case $objective in
    nsgan) set=(--set method=nsgan) ;;
    wgan-gp) set=(--set method=wgan-gp) ;;
    ppo-gan) set=(--set method=ppo-gan); steps=$((ADV / 5)); tau=$((TAU / 5)) ;;
    softmax) set=(--set method=nsgan --set style.importance=softmax) ;;
    prior) set=(--set method=nsgan --set style.adversary=prior) ;;
    *) echo "unknown objective $objective" >&2; return 2 ;;
  esac
  run "$name" --steps "$steps" --seed "$seed" --set style.adversary="$ADVERSARY" "${set[@]}" --set pretrain.init_from="$init" \
    --set style.autoencoder_steps=0 --set style.tau_every="$tau" \
    --set style.sentence_critic="$SENTENCE_CRITIC" "$@"
}
throttle() { while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 5; done; }
mkdir -p "$OUT"
IFS=, read -ra seeds <<< "$SEEDS"
IFS=, read -ra objectives <<< "$OBJECTIVES"
IFS=, read -ra weights <<< "$WEIGHTS"
for s in "${seeds[@]}"; do ae "$s" & throttle; done
if [ "$STAGE" = all ]; then
  for s in "${seeds[@]}"; do
    for o in "${objectives[@]}"; do adv "$o-s$s" "$s" "$o" & throttle; done
  done
  for w in "${weights[@]}"; do
    adv "sweep-w$w-s$SWEEP_SEED" "$SWEEP_SEED" nsgan --set style.style_weight="$w" & throttle
  done
  if [ "$NOATT" = 1 ]; then
    SUFFIX=-noatt ae 0 --set style.attention=false & throttle
  fi
fi
wait
[ "$STAGE" = all ] && python benchmarks/style_summary.py "$OUT"
exit 0
