#!/bin/sh
# Do-no-harm measure of the zoo (issue 25): each model on rain-free photos, output scored against its
# own input (`derain eval --clean`), one JSON per model and set, resumable (an existing JSON is skipped).
#   DERAIN_WEIGHTS_DIR=../shared/weights HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2 \
#     sh benchmarks/do_no_harm/run.sh FOLDER EVERY PRECISION MODEL...
# e.g. FOLDER=../shared/data/camvid_val/images EVERY=10 PRECISION=auto (bf16 where served, else fp32).
set -e
folder=$1; every=$2; precision=$3; shift 3
name=$(basename "$(dirname "$(realpath "$folder")")")_$(basename "$folder")
for model in "$@"; do
  json=benchmarks/do_no_harm/${model}__${name}_every${every}_${precision}.json
  [ -s "$json" ] && continue
  python -m derain_cli eval --data "$folder" --clean --every "$every" --model "$model" --precision "$precision" \
    --device cpu --json --quiet > "$json.part"
  mv "$json.part" "$json"
done
