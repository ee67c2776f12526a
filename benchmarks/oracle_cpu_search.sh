#!/usr/bin/env bash
# The pre-registered search of issue 21.1 (benchmarks/oracle_cpu_search.md): for each setting
# in its fixed order (benchmarks/oracle_cpu_search.py SETTINGS), relgan from the shared
# pre-trained start of its vocabulary against the maximum-likelihood continuation of the same
# start, 3 seeds, 1,200 minibatch updates each; stops at the first setting the rule accepts.
#
#   OUT=/work/bench/oracle/search JOBS=2 DEADLINE=20:58 bash benchmarks/oracle_cpu_search.sh
#   OUT=/work/bench/oracle/search JOBS=2 ROUND=2 bash benchmarks/oracle_cpu_search.sh
#
# ROUND=2: the second round (settings F, G: fresh seeds 3-5, 300 updates; the .md says why).
# DEADLINE (HH:MM, UTC): no run of a new setting is started after it (the .md's time cap).
# Resumable: rerun the same command; finished runs (eval.json) are kept, unfinished ones redone.
# Each run's wall seconds go to <run dir>.wall_s, its output to <run dir>.log.
set -euo pipefail
OUT=${OUT:-/work/bench/oracle/search}
JOBS=${JOBS:-2}
DEADLINE=${DEADLINE:-}
ROUND=${ROUND:-1}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
PY=benchmarks/oracle_cpu_search.py
read -r PRETRAIN EVERY <<< "$(python -c "
import sys; sys.path.insert(0, 'benchmarks'); import oracle_cpu_search as s
print(s.PRETRAIN, s.EVERY)")"
COMMON=(--recipe oracle-cpu --set log.progress=false --set log.tensorboard=false
        --set eval.n_samples=500)
mkdir -p "$OUT"
pids=()

timed() {  # DIR ARGS...: one stablegan train into DIR unless it finished; DIR.wall_s, DIR.log
  local dir=$1; shift
  [ -f "$dir/eval.json" ] && return 0
  rm -rf "$dir"; mkdir -p "$(dirname "$dir")"
  local t0=$EPOCHREALTIME
  python -m stablegan train --out "$dir" "${COMMON[@]}" "$@" > "$dir.log" 2>&1
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }' > "$dir.wall_s"
}

slot() {  # wait until fewer than JOBS runs of ours are in flight
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
}

decided() { [ -n "$(python "$PY" decide "$OUT" --round "$ROUND")" ]; }

past_deadline() {
  [ -n "$DEADLINE" ] && [ "$(date -u +%H:%M)" \> "$DEADLINE" ]
}

pretrained() {  # V: the shared start of vocabulary V (seed 0), in the foreground
  timed "$OUT/V$1/pretrained" --steps 0 --seed 0 --set "data.oracle_vocab=$1" \
    --set "pretrain.steps=$PRETRAIN"
}

declare -A mle_queued=()
while read -r name vocab batches seedlist mle sets; do
  IFS=, read -ra seeds <<< "$seedlist"
  every=$(( EVERY * batches / 1200 ))  # 4 periodic evaluations per run
  decided && break
  if past_deadline; then echo "deadline $DEADLINE passed: $name and later not started"; break; fi
  pre="$OUT/V$vocab/pretrained"
  if [ ! -f "$pre/eval.json" ]; then
    wait  # a new start is built alone, in the foreground, before the runs that share it
    decided && break
    pretrained "$vocab"
  fi
  if [ -z "${mle_queued[$mle]:-}" ]; then
    mle_queued[$mle]=1
    for seed in "${seeds[@]}"; do
      slot
      timed "$OUT/$mle/cmp/mle/seed$seed" --steps 0 --seed "$seed" \
        --set "data.oracle_vocab=$vocab" --set "pretrain.init_from=$pre" \
        --set "pretrain.steps=$batches" --set "pretrain.eval_every=$every" &
    done
  fi
  read -ra overrides <<< "$sets"
  args=(); for o in "${overrides[@]}"; do args+=(--set "$o"); done
  for seed in "${seeds[@]}"; do
    slot
    decided && break 2  # an earlier setting was accepted: nothing more is started
    # relgan: 5 critic steps + 1 generator step = 6 minibatch updates per iteration
    timed "$OUT/$name/cmp/relgan/seed$seed" --steps $((batches / 6)) --seed "$seed" \
      "${args[@]}" --set "pretrain.init_from=$pre" --set pretrain.steps=0 \
      --set "eval.every=$((every / 6))" &
  done
done < <(python "$PY" settings --round "$ROUND")
wait
final=(); decided || final=(--final)
python "$PY" table "$OUT" --round "$ROUND" "${final[@]}" | tee "$OUT/table-round$ROUND.md"
