"""The heavy-rain route of the photo default (issue 25), chosen on the validation sets of
benchmarks/gpu_realrain/val_sets.py (never a test set).

`sapnet-realrain-v3` keeps real photos and rain-free ones intact but removes little of dense synthetic
downpours; the authors' Rain100H SAPNet removes those and flattens the rest. `derain_cli.rain_route`
hands an image to a second network when the first removes much rain. Candidates: the second network a
uniform soup of v3 and the authors' weights (authors' share 0.4-0.8; the authors' file itself is scored
for the record, it cannot ship), the route's ramp (low, high) in grey levels of rain strength.

    python -m benchmarks.realrain_route /work/data/val_urban ../shared/weights/sapnet_rain100h_authors.pth

Prints each image's rain strength, then per candidate PSNR-Y (bf16) of the rain-free photos against
themselves and of the five rainy sets. The rule (as for v3): rain-free at least 38, then the highest
mean of the five rainy sets; it must beat v3 alone (25.948).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.realrain_layer_soup import RAINY
from derain_cli.derainer import Derainer
from derain_cli.imageio import read_rgb8
from derain_cli.metrics import psnr_y
from derain_cli.pairs import find_pairs, rain_free_set
from derain_cli.rain_route import RainRoute, rain_strength
from derain_cli.weights.average import average_checkpoints

V3 = Path(__file__).parents[1] / "derain_cli" / "bundled" / "sapnet-realrain-v3.safetensors"
SHARES = (0.4, 0.5, 0.6, 0.8, 1.0)  # 1.0: the authors' weights (for the record: not shippable)
RAMPS = ((5, 10), (5, 20), (10, 20), (10, 40), (15, 30), (15, 60), (20, 40), (20, 80), (30, 60), (30, 90))


def pairs(val: Path) -> list[tuple[str, Path, Path]]:
    """(set, rainy, clean) of the six sets; the rain-free photos are their own targets."""
    out = [("clean", p.rainy, p.clean) for p in rain_free_set(val / "clean").pairs]
    return out + [(name, p.rainy, p.clean) for name in RAINY for p in find_pairs(val / name).pairs]


def tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div_(255.0)


def to_uint8(y: torch.Tensor) -> np.ndarray:
    return y[0].clamp(0, 1).mul(255.0).round_().to(torch.uint8).permute(1, 2, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("val", type=Path, help="the folder val_sets.py wrote (clean/, mix/, ..., rth/)")
    parser.add_argument("authors", type=Path, help="the authors' Rain100H SAPNet (../shared/weights/sapnet_rain100h_authors.pth)")
    args = parser.parse_args()
    light = Derainer("sapnet", weights=V3, precision="bf16")
    items = [(name, read_rgb8(rainy), read_rgb8(clean)) for name, rainy, clean in pairs(args.val)]
    firsts = [light.derain_tensor(tensor(rainy)) for _, rainy, _ in items]
    strengths = [rain_strength(tensor(rainy), first) for (_, rainy, _), first in zip(items, firsts)]
    unrouted = [psnr_y(to_uint8(first), clean) for (_, _, clean), first in zip(items, firsts)]
    for name in ("clean", *RAINY):
        print(name, "rain strength", " ".join(f"{float(s):.1f}" for (n, _, _), s in zip(items, strengths) if n == name), flush=True)
    lowest = min(low for low, _ in RAMPS)
    with tempfile.TemporaryDirectory() as tmp:
        for share in SHARES:
            weights = args.authors
            if share < 1:
                weights = Path(tmp) / f"soup{share}.safetensors"
                average_checkpoints([V3, args.authors], weights, [1 - share, share])
            second = Derainer("sapnet", weights=weights, precision="bf16")
            seconds = {k: second.derain_tensor(tensor(items[k][1])) for k, s in enumerate(strengths) if s.item() > lowest}
            for low, high in RAMPS:
                route = RainRoute("second", low, high)
                scores: dict[str, list[float]] = {}
                for k, (name, _, clean) in enumerate(items):  # each image's strength as measured once above
                    weight = route.share(strengths[k])
                    routed = weight.item() > 0
                    psnr = psnr_y(to_uint8(torch.lerp(firsts[k], seconds[k], weight.view(-1, 1, 1, 1))), clean) if routed else unrouted[k]
                    scores.setdefault(name, []).append(psnr)
                means = {name: float(np.mean(v)) for name, v in scores.items()}
                mean5 = float(np.mean([means[name] for name in RAINY]))
                print(f"share {share:.1f} ramp {low:>2}-{high:<2} | " + " ".join(f"{means[n]:6.2f}" for n in ("clean", *RAINY)),
                      f"| mean5 {mean5:.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
