#!/usr/bin/env bash
# The methods on the CPU-sized oracle (issue 21.2): recipe oracle-cpu (the setting the
# pre-registered search chose, benchmarks/oracle_cpu_search.md), 3 seeds, one shared pre-trained
# start, the chosen setting's minibatch updates per run (300 for F; `stablegan compare --batches`).
#
#   SEARCH=/work/bench/oracle/search OUT=/work/bench/oracle/main JOBS=2 bash benchmarks/oracle_cpu.sh
#
# The start, the mle continuation and relgan are the chosen setting's search runs (linked from
# SEARCH: the same recipe, start, seeds and budget); compare adds the other methods from that
# start: wgan-gp, ppo-gan-reweight (re-weighting only, 5:1), ppo-gan-text-authors (the authors'
# text settings: classifier ratio, reference clip, their temperature) and ppo-gan with the exact
# ratio (centred advantage of the relaxed sample, issue 18). Then the table (text_summary.py) and
# the curves / stability plots (oracle_cpu_plot.py). Resumable: rerun the same command.
# Without SEARCH, mle and relgan are run here too (from OUT/pretrained: trained here unless it
# holds a finished run, e.g. a link to the search's start); e.g. a confirmation on new seeds:
#   SEEDS=6,7,8 METHODS=relgan OUT=/work/bench/oracle/confirm bash benchmarks/oracle_cpu.sh
set -euo pipefail
OUT=${OUT:-/work/bench/oracle/main}
SEARCH=${SEARCH:-}
JOBS=${JOBS:-2}
# the chosen setting's seeds, budget, evaluation interval and mle folder (oracle_cpu_search.py)
read -r CHOSEN C_SEEDS C_BATCHES C_EVERY MLE_FOLDER <<< "$(python -c "
import sys; sys.path.insert(0, 'benchmarks'); import oracle_cpu_search as s
c = s.chosen()
print(c.name, ','.join(map(str, c.seeds)), c.batches, s.EVERY * c.batches // 1200 // 6, c.mle_folder)")"
SEEDS=${SEEDS:-$C_SEEDS}
BATCHES=${BATCHES:-$C_BATCHES}
EVERY=${EVERY:-$C_EVERY}  # iterations between evaluations (relgan, wgan-gp: EVERY * 6 updates)
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
COMMON=(--set log.progress=false --set log.tensorboard=false --set eval.n_samples=500)
METHODS=${METHODS:-"wgan-gp,ppo-gan-reweight,ppo-gan-text-authors,ppo-gan+variational.ratio=exact+variational.advantage=centered"}
mkdir -p "$OUT/cmp"
V=$(python -c "from stablegan.recipes import load_config; print(load_config('oracle-cpu').data.oracle_vocab)")
PRE="$OUT/pretrained"
if [ -n "$SEARCH" ]; then
  for link in "$PRE=$SEARCH/V$V/pretrained" "$OUT/cmp/mle=$SEARCH/$MLE_FOLDER/cmp/mle" \
              "$OUT/cmp/relgan=$SEARCH/$CHOSEN/cmp/relgan"; do
    [ -e "${link%%=*}" ] || ln -s "${link#*=}" "${link%%=*}"
  done
else
  if [ ! -f "$PRE/eval.json" ]; then
    resume=(); [ -f "$PRE/checkpoints/last.pt" ] && resume=(--resume)
    python -m stablegan train --recipe oracle-cpu --steps 0 --seed 0 --out "$PRE" \
      "${COMMON[@]}" "${resume[@]}"
  fi
  case ",$METHODS," in *,relgan,*) ;; *) METHODS="relgan,$METHODS" ;; esac
fi
IFS=, read -ra seeds <<< "$SEEDS"
for seed in "${seeds[@]}"; do  # MLE at equal compute: BATCHES more maximum-likelihood steps
  dir="$OUT/cmp/mle/seed$seed"
  if [ ! -f "$dir/eval.json" ]; then
    rm -rf "$dir"
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done  # JOBS at a time
    python -m stablegan train --recipe oracle-cpu --steps 0 --seed "$seed" --out "$dir" \
      --set "pretrain.init_from=$PRE" --set pretrain.steps="$BATCHES" \
      --set pretrain.eval_every=$((EVERY * 6)) "${COMMON[@]}" &
  fi
done
wait
python -m stablegan compare --recipe oracle-cpu --methods "$METHODS" --seeds "$SEEDS" \
  --batches "$BATCHES" --jobs "$JOBS" --out "$OUT/cmp" "${COMMON[@]}" \
  --set "pretrain.init_from=$PRE" --set pretrain.steps=0 --set eval.every="$EVERY"
python benchmarks/text_summary.py "$OUT" | tee "$OUT/table.md"
python benchmarks/oracle_cpu_plot.py "$OUT" --out-dir "$OUT"
