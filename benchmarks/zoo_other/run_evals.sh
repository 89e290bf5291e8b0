#!/bin/sh
# The measured rows of spanet-spa and jorder-e-practical (issue 17), from the repository root:
#   DERAIN_WEIGHTS_DIR=../shared/weights HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 nice -n 15 sh benchmarks/zoo_other/run_evals.sh
# gtrain_dev (12 pairs) in one go; Rain100H in ten chunks of ten pairs (symlinked folders), so a
# shared, loaded machine can stop and resume it; aggregate.py averages the chunks (means of n = 10).
# Resumable: an output whose JSON exists is skipped.
set -e
out=benchmarks/zoo_other
for model in spanet-spa jorder-e-practical; do
  json="$out/gtrain_dev_${model}.json"
  [ -s "$json" ] || { derain eval --data ../shared/data/gtrain_dev --model "$model" --json --quiet > "$json.part"; mv "$json.part" "$json"; }
done
chunks=${TMPDIR:-/tmp}/zoo_other_rain100h
for k in 0 1 2 3 4 5 6 7 8 9; do  # chunk by chunk, both models: a partial run covers the same pairs
  mkdir -p "$chunks/$k/input" "$chunks/$k/target"
  for i in $(seq $((10 * k + 1)) $((10 * k + 10))); do
    ln -sf "$(realpath ../shared/data/rain100h/input/$i.png)" "$chunks/$k/input/$i.png"
    ln -sf "$(realpath ../shared/data/rain100h/target/$i.png)" "$chunks/$k/target/$i.png"
  done
  for model in jorder-e-practical spanet-spa; do
    json="$out/rain100h_${model}_$k.json"
    [ -s "$json" ] && continue
    derain eval --data "$chunks/$k" --model "$model" --json --quiet > "$json.part"
    mv "$json.part" "$json"
  done
done
