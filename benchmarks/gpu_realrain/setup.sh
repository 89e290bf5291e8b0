# Sourced by the GPU training scripts (gpu_realrain/train.sh, gpu_lite/train.sh) after they set
# $pack, $out and $runs: empties the run folders, links /tmp/identity (a paired folder whose input and
# target are the same clean photos of the pack: rain-free input must come back unchanged; built aside and
# moved in at once, so two scripts started together share it) and names the GPU.
mkdir -p "$out" "$runs"
rm -rf "$runs"/*
if [ ! -d /tmp/identity ]; then
  tmp=$(mktemp -d /tmp/identity.XXXX)
  mkdir -p "$tmp/input" "$tmp/target"
  for f in "$pack"/urban100/*.jpg "$pack"/rain100l_pairs/target/*; do
    name=$(basename "$(dirname "$(dirname "$f")")")_$(basename "$f")
    ln -s "$PWD/$f" "$tmp/input/$name"; ln -s "$PWD/$f" "$tmp/target/$name"
  done
  mv -T "$tmp" /tmp/identity 2>/dev/null || rm -rf "$tmp"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
