#!/bin/sh
# Pack the training data of the GPU fine-tune (issue 25) into one file that travels with the working
# tree (the GPU machine has no network and no ../shared): clean NON-TEST backgrounds only, as JPEG q97
# (rain is rendered on them by `derain synth` during training), and the authors' MIT SAPNet weights.
#   sh benchmarks/gpu_realrain/pack.sh            -> runs/gpu_pack/ (about 25 MB; carry it)
# Never packed: gtrain_dev, rain100h, camvid_val (evaluation sets).
set -e
out=runs/gpu_pack
mkdir -p "$out/urban100" "$out/rain100l_clean"
python - "$out" <<'PY'
import sys
from pathlib import Path
from PIL import Image
out = Path(sys.argv[1])
for src, dst in (("../shared/data/clean/urban100", "urban100"), ("../shared/data/rain100l_train/target", "rain100l_clean")):
    for path in sorted(Path(src).glob("*.png")):
        Image.open(path).convert("RGB").save(out / dst / f"{path.stem}.jpg", quality=97)
PY
cp ../shared/weights/sapnet_rain100h_authors.pth "$out/"
du -sh "$out"
