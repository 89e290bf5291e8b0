#!/bin/sh
# Measured rows of the model zoo (issue 17), fp32 (the papers' arithmetic), resumable.
#   DERAIN_WEIGHTS_DIR=../shared/weights HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 sh benchmarks/zoo/evals/run.sh SET MODEL...
# SET is gtrain_dev (12 real pairs, one JSON per model) or rain100h (100 pairs in ten parts of ten,
# symlinked folders of pairs 1-10, 11-20, ..., one JSON per part, so a stopped run resumes part by
# part). An output whose JSON exists is skipped. Then, for Rain100H:
#   python -m benchmarks.zoo.combine_evals benchmarks/zoo/evals/MODEL__rain100h_part*.json
set -e
set_name=$1; shift
out=benchmarks/zoo/evals
data=../shared/data/$set_name
run() {  # run DATA_DIR JSON MODEL
  [ -s "$2" ] && return 0
  derain eval --data "$1" --model "$3" --precision fp32 --device cpu --json --quiet > "$2.part"
  mv "$2.part" "$2"
}
for model in "$@"; do
  if [ "$set_name" != rain100h ]; then
    run "$data" "$out/${model}__${set_name}.json" "$model"
    continue
  fi
  for k in 0 1 2 3 4 5 6 7 8 9; do
    part=${TMPDIR:-/tmp}/derain_rain100h_parts/$k
    mkdir -p "$part/input" "$part/target"
    for i in $(seq $((10 * k + 1)) $((10 * k + 10))); do
      ln -sf "$(realpath "$data/input/$i.png")" "$part/input/$i.png"
      ln -sf "$(realpath "$data/target/$i.png")" "$part/target/$i.png"
    done
    run "$part" "$out/${model}__rain100h_part$k.json" "$model"
  done
done
