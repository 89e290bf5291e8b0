# Sourced by the GPU training scripts (gpu_realrain/train.sh, gpu_lite/train.sh) after they set
# $pack, $out and $runs: empties the run folders, links /tmp/identity (a paired folder whose input and
# target are the same clean photos of the pack: rain-free input must come back unchanged) and names the GPU.
mkdir -p "$out" "$runs"
rm -rf /tmp/identity "$runs"/*
mkdir -p /tmp/identity/input /tmp/identity/target
for f in "$pack"/urban100/*.jpg "$pack"/rain100l_pairs/target/*; do
  name=$(basename "$(dirname "$(dirname "$f")")")_$(basename "$f")
  ln -s "$PWD/$f" /tmp/identity/input/"$name"; ln -s "$PWD/$f" /tmp/identity/target/"$name"
done
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
