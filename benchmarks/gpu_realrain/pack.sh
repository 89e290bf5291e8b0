#!/bin/sh
# Pack the training data of the GPU fine-tune (issue 25) into one folder that travels with the working
# tree (the GPU machine has no network and no ../shared). Training sets only, as JPEG q97:
#   urban100/        clean Urban100 photos except every 8th (those 13 are the validation set, never trained on)
#   rain100l_pairs/  RainTrainL's 100 pairs (input/, target/) as lossless WebP: their rain layers
#                    (input - target) feed `layers=K` heavy rain exactly, the targets are backgrounds too
# and the authors' MIT SAPNet weights.
#   sh benchmarks/gpu_realrain/pack.sh            -> runs/gpu_pack/ (about 50 MB; carry it)
# Never packed: gtrain_dev, rain100h, camvid_val, nturain (evaluation sets).
set -e
out=runs/gpu_pack
rm -rf "$out"
python - "$out" <<'PY'
import sys
from pathlib import Path
from PIL import Image
from derain_cli.pairs import natural_key

out = Path(sys.argv[1])
def save(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.suffix == ".webp":
        Image.open(src).convert("RGB").save(dst, lossless=True, method=4)
    else:
        Image.open(src).convert("RGB").save(dst, quality=97)

for number, path in enumerate(sorted(Path("../shared/data/clean/urban100").glob("*.png"), key=lambda p: natural_key(p.name))):
    if number % 8:  # every 8th photo (0, 8, ...) is held out for validation
        save(path, out / "urban100" / f"{path.stem}.jpg")
for side in ("input", "target"):
    for path in Path(f"../shared/data/rain100l_train/{side}").glob("*.png"):
        save(path, out / "rain100l_pairs" / side / f"{path.stem}.webp")
PY
cp ../shared/weights/sapnet_rain100h_authors.pth "$out/"
du -sh "$out"
