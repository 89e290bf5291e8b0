#!/bin/bash
# GPU fine-tunes of SAPNet for real rain (issue 25), variants side by side on one GPU, each under its
# own time limit (H200 class). Run from the repository root with runs/gpu_pack carried (made by
# benchmarks/gpu_realrain/pack.sh, plus round1.safetensors for round 2):
#   run(command="ROUND=2 bash benchmarks/gpu_realrain/train.sh", carry=["runs/gpu_pack"], timeout_s=330)
# Every variant: fresh `derain synth` rain (preset mix: streaks, veil, blur) on clean non-test
# backgrounds at every step, RainTrainL's pairs, and IDENTITY pairs (clean photos as their own
# targets: rain-free input must come back unchanged, the do-no-harm measure); losses SSIM + L1 (the
# default's), grad (texture) and tone (no tone shift).
# Round 1 (LIMIT=400, 2026-12-04): default (from the bundled sapnet-realrain), authors (from the
#   authors' Rain100H SAPNet), lwf (default + the authors' model's outputs on storm-rendered Urban100).
#   (Round 1 ran with the pack and script of commit 81c97f2: RainTrainL as JPEG q97, its targets as a
#   separate background folder; this version reads the lossless pack round 2 used.)
# Round 2 (LIMIT=270): round 1's chosen model (round1.safetensors) plus HEAVY rain made from
#   RainTrainL's own rain layers (`rain100l_pairs,layers=6`, derain_cli/train/layered.py), since round
#   1 had lost Rain100H: heavy1 (weight 1), heavy2 (weight 2); authors2 = the same data from the authors'.
# Round 3 (LIMIT=400 MILESTONES=50): from round 2's pick (sapnet-realrain-v2), toward Rain100H: more
#   (round 2's data), heavier (layers weight 2), storm (+ synth preset storm, weight 0.5).
# Round 4 (LIMIT=380 MILESTONES=50 WORKERS=7): from "model soups" of sapnet-realrain-v2 and the authors'
#   Rain100H SAPNet (tensor-wise weighted means, made here with `derain weights average`; they keep the
#   authors' heavy-rain skill but fail the do-no-harm check: docs/real-rain.md), round 2's data (identity
#   pairs teach rain-free input back): soup30 (30 % authors'), blocks34 (v2 with the authors' res_conv3 and
#   res_conv4: the layer-wise soup that made sapnet-realrain-v3, at full strength), and soup30-lwf (soup30 plus the
#   authors' model's own outputs on storm-rendered Urban100 as targets, weight 0.5: a CPU run from soup 0.3
#   lost the Rain100H-like skill first, so this one is told to keep it). Chosen with the `rth` set too.
# Each run folder (checkpoints every 250 steps, snapshots for `derain weights average`) comes back
# as $OUT/NAME.tar, so a stopped run still returns and resumes with --resume -o that folder.
# Then benchmarks/gpu_realrain/cuda_checks.py times the default and LiteNet on CUDA (fp32, fp16).
# Smoke test on a CPU: DEVICE=cpu PRECISION=bf16 STEPS=2 PATCH=64 BATCH=2 WORKERS=0 LIMIT=300 bash ...
set -u
pack=runs/gpu_pack
out=${OUT:-runs/gpu_out}
runs=/tmp/gpu_realrain
device=${DEVICE:-cuda} precision=${PRECISION:-fp16} steps=${STEPS:-3000} patch=${PATCH:-128}
batch=${BATCH:-16} workers=${WORKERS:-5} limit=${LIMIT:-400}
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 DERAIN_WEIGHTS_DIR=$PWD/$pack DERAIN_CACHE=/tmp/derain_cache PYTHONUNBUFFERED=1
. benchmarks/gpu_realrain/setup.sh
data="synth:$pack/urban100,synth:$pack/rain100l_pairs,$pack/rain100l_pairs,/tmp/identity,weight=0.5"
common=(--model sapnet --losses ssim,l1,grad:0.5,tone:2 --patch "$patch" --batch-size "$batch" --lr 5e-5
        --epochs 200 --max-steps "$steps" --milestones "${MILESTONES:-100}" --checkpoint-every 250 --snapshots
        --device "$device" --precision "$precision" --workers "$workers" --seed 25 -q)
start=$(date +%s)
train() {  # NAME ARGS...: one variant under the time limit, its log beside the results
  local name=$1; shift
  timeout "$limit" python3 -m derain_cli train "${common[@]}" -o "$runs/$name" "$@" >"$out/$name.log" 2>&1
  echo "$name: exit $? after $(( $(date +%s) - start )) s, $(ls "$runs/$name/snapshots" 2>/dev/null | wc -l) snapshots"
}
if [ "${ROUND:-1}" = 1 ]; then
  names="default authors lwf"
  train default --weights derain_cli/bundled/sapnet-realrain.safetensors --dataset "$data" &
  train authors --weights "$pack/sapnet_rain100h_authors.pth" --dataset "$data" &
  lwf="synth:$pack/urban100,target=clean,synth:$pack/rain100l_pairs,target=clean,$pack/rain100l_pairs,target=clean,"
  lwf+="/tmp/identity,target=clean,weight=0.5,synth:$pack/urban100,preset=storm,renders=2,weight=0.5"
  train lwf --weights derain_cli/bundled/sapnet-realrain.safetensors --teacher sapnet-rain100h --dataset "$lwf" &
elif [ "${ROUND}" = 2 ]; then
  names="heavy1 heavy2 authors2"
  train heavy1 --weights "$pack/round1.safetensors" --dataset "$data,$pack/rain100l_pairs,layers=6" &
  train heavy2 --weights "$pack/round1.safetensors" --dataset "$data,$pack/rain100l_pairs,layers=6,weight=2" &
  train authors2 --weights "$pack/sapnet_rain100h_authors.pth" --dataset "$data,$pack/rain100l_pairs,layers=6" &
elif [ "${ROUND}" = 3 ]; then  # more heavy-rain steps from the shipped sapnet-realrain-v2
  names="more heavier storm"
  v2=derain_cli/bundled/sapnet-realrain-v2.safetensors
  train more --weights "$v2" --dataset "$data,$pack/rain100l_pairs,layers=6" &
  train heavier --weights "$v2" --dataset "$data,$pack/rain100l_pairs,layers=6,weight=2" &
  train storm --weights "$v2" --dataset "$data,$pack/rain100l_pairs,layers=6,synth:$pack/urban100,preset=storm,weight=0.5" &
else  # round 4: soups of v2 and the authors' model, taught the do-no-harm pairs again on round 2's data
  names="soup30 blocks34 soup30-lwf"
  python3 -m derain_cli weights average derain_cli/bundled/sapnet-realrain-v2.safetensors "$pack/sapnet_rain100h_authors.pth" \
    --weights 70,30 -o /tmp/soup30.safetensors --overwrite >/dev/null
  # the layer-wise soup of 2026-12-05 at full strength: res_conv3 and res_conv4 the authors' (rain-free 37.97, rth 27.50)
  python3 -m derain_cli weights average derain_cli/bundled/sapnet-realrain-v2.safetensors "$pack/sapnet_rain100h_authors.pth" \
    --weights 0,1 --layers res_conv3,res_conv4 -o /tmp/blocks34.safetensors --overwrite >/dev/null
  train soup30 --weights /tmp/soup30.safetensors --dataset "$data,$pack/rain100l_pairs,layers=6" &
  train blocks34 --weights /tmp/blocks34.safetensors --dataset "$data,$pack/rain100l_pairs,layers=6" &
  lwf="synth:$pack/urban100,target=clean,synth:$pack/rain100l_pairs,target=clean,$pack/rain100l_pairs,target=clean,"
  lwf+="/tmp/identity,target=clean,weight=0.5,$pack/rain100l_pairs,layers=6,target=clean,"
  lwf+="synth:$pack/urban100,preset=storm,renders=2,weight=0.5"
  train soup30-lwf --weights /tmp/soup30.safetensors --teacher sapnet-rain100h --dataset "$lwf" &
fi
wait
for name in $names; do
  tail -3 "$runs/$name/metrics.jsonl" 2>/dev/null | cut -c1-300
  tar -C "$runs" -cf "$out/$name.tar" "$name" 2>/dev/null
done
echo "training wall $(( $(date +%s) - start )) s"
[ "$device" = cuda ] && [ "${ROUND:-1}" = 1 ] && timeout 100 python3 benchmarks/gpu_realrain/cuda_checks.py sapnet-realrain \
  litenet=derain_cli/bundled/lite.safetensors 2>&1 | tail -8
ls -la "$out"
