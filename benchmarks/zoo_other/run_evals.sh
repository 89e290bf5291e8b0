#!/bin/sh
# The measured rows of spanet-spa and jorder-e-practical (issue 17): gtrain_dev first, then Rain100H.
# Resumable: a set whose JSON exists is skipped. Run from the repository root:
#   DERAIN_WEIGHTS_DIR=../shared/weights HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 15 sh benchmarks/zoo_other/run_evals.sh
set -e
out=benchmarks/zoo_other
for data in gtrain_dev rain100h; do
  for model in spanet-spa jorder-e-practical; do
    json="$out/eval_${data}_${model}.json"
    [ -s "$json" ] && continue
    derain eval --data "../shared/data/$data" --model "$model" --json --quiet > "$json.part"
    mv "$json.part" "$json"
  done
done
