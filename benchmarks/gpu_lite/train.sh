#!/bin/bash
# GPU training of LiteNet (issue 26) on heavy rain, prepared for the next lent GPU (not run yet).
# The CPU runs showed LiteNet stays the identity without Rain100H-class rain in its data; `layers=6`
# (derain_cli/train/layered.py) supplies it from RainTrainL's own rain layers with clean targets, as it
# did for sapnet-realrain-v2. Two widths side by side, each under its own time limit (H200 class).
# Run from the repository root with runs/gpu_pack carried (benchmarks/gpu_realrain/pack.sh):
#   run(command="bash benchmarks/gpu_lite/train.sh", carry=["runs/gpu_pack"], timeout_s=540)
# Each run folder comes back as $OUT/NAME.tar (resumable with --resume -o that folder).
# Run 2026-12-04 evening (NAMES=lite-cont LR=1e-3 LIMIT=400 WORKERS=3, beside issue 25's runs): Rain100H
# 20.12 -> 20.37 (3,492 steps; its last checkpoint, step 2,500, became lite-heavy-gpu; a CPU continuation of it shipped as the first `lite`). Next: lite-s4 (wider, larger
# receptive field at 1.5x the cost) and lite-cont, the default NAMES, with all 16 cores: WORKERS=7.
# (The CPU run lite-s4c48, resumable here until 2026-12-05, finished on the CPU and ships as `lite`: docs/lite.md.)
# Smoke test on a CPU: DEVICE=cpu PRECISION=bf16 STEPS=2 BATCH=4 WORKERS=0 LIMIT=120 bash ...
set -u
pack=runs/gpu_pack
out=${OUT:-runs/gpu_out}
runs=/tmp/gpu_lite
device=${DEVICE:-cuda} precision=${PRECISION:-fp16} steps=${STEPS:-60000}
batch=${BATCH:-32} workers=${WORKERS:-7} limit=${LIMIT:-420}
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
. benchmarks/gpu_realrain/setup.sh
data="$pack/rain100l_pairs,layers=6,weight=2,$pack/rain100l_pairs,synth:$pack/urban100,/tmp/identity,weight=0.5"
start=$(date +%s)
train() {  # NAME ARGS...
  local name=$1; shift
  timeout "$limit" python3 -m derain_cli train --model litenet --dataset "$data" --losses ssim,l1 --patch 128 \
    --batch-size "$batch" --lr "${LR:-2e-3}" --epochs 5000 --milestones 2500,4000 --max-steps "$steps" \
    --checkpoint-every 2500 --snapshots --device "$device" --precision "$precision" --workers "$workers" \
    --seed 26 -q -o "$runs/$name" "$@" >"$out/$name.log" 2>&1
  echo "$name: exit $? after $(( $(date +%s) - start )) s, $(ls "$runs/$name/snapshots" 2>/dev/null | wc -l) snapshots"
}
names=${NAMES:-lite-s4 lite-cont}
case " $names " in *" lite "*) train lite & ;; esac
# the shipped lite (since 2026-12-05 night: 4x4 blocks, 48 channels, 6 blocks) continued as its last branch was
# trained: without the identity pairs, at that branch's first rate (LR overrides it)
case " $names " in *" lite-cont "*) train lite-cont --weights derain_cli/bundled/lite.safetensors --model-option scale=4 \
  --model-option channels=48 --model-option blocks=6 --dataset "${data%,/tmp/identity,weight=0.5}" --lr "${LR:-1e-4}" & ;; esac
# wider and farther-seeing at about 1.5x lite's arithmetic: 4x4 pixel blocks (1/16 of the pixels), 64 channels, 6 blocks
# (at lr 2e-3 its ReLUs all died within 2,000 CPU steps, 2026-12-04: it trains at 5e-4)
case " $names " in *" lite-s4 "*) train lite-s4 --model-option scale=4 --model-option channels=64 --model-option blocks=6 --lr 5e-4 & ;; esac
wait
for name in $names; do
  tail -1 "$runs/$name/metrics.jsonl" 2>/dev/null | cut -c1-200
  tar -C "$runs" -cf "$out/$name.tar" "$name" 2>/dev/null
done
echo "wall $(( $(date +%s) - start )) s"
