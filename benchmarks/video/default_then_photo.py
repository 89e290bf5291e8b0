"""Ninth round of the video default (docs/video.md), a probe: the photo default's network
(`sapnet-realrain-v3`) run frame by frame on the video default's output, to remove what the vote leaves
in every frame (persistent drizzle, the veil), scored on the validation videos (never a test set).

    python -m benchmarks.video.temporal_choice SET --model MODEL --radius 3     # MODEL: s2vd, sapnet-realrain, sapnet-realrain-v3
    python -m benchmarks.video.default_then_photo SET

Prints per sequence v3's rain strength (derain_cli.rain_route) on the rainy input and on the default's
output, and PSNR-Y / SSIM-Y / warping error x1e3 of the default, the cascade and their mean; then the means.
The network's outputs on the default's frames are cached under CACHE/default>v3.
"""

from __future__ import annotations

import numpy as np

from benchmarks.video.photo_network_in_video import NETWORK, staged, strengths
from benchmarks.video.temporal_choice import cache_parser, cached, loaded, measure, print_table, rounded_mean
from derain_cli.derainer import Derainer
from derain_cli.video.processors import make_processor, run_processor


def main() -> None:
    args = cache_parser(__doc__).parse_args()
    derainer = None
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for seq, rainy, clean in loaded(args.set):
        default = rounded_mean([staged(args.cache, "s2vd", args.set, seq, rainy), staged(args.cache, "sapnet-realrain", args.set, seq, rainy)])
        path = args.cache / "default>v3" / f"{args.set.name}_{seq}.npy"
        if path.exists():
            cascade = list(np.load(path))
        else:
            derainer = derainer or Derainer(NETWORK, precision="auto")
            cascade = run_processor(make_processor(derainer, temporal=0), default)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, np.stack(cascade))
        candidates = {"the default": default, f"{NETWORK} on the default's frames": cascade, "their mean": rounded_mean([default, cascade])}
        for label, frames in candidates.items():
            rows.setdefault(label, []).append(measure(frames, clean, rainy=rainy))
        before = strengths(rainy, cached(args.cache, NETWORK, args.set, seq)).mean().item()
        after = strengths(default, cascade).mean().item()
        print(f"{seq}: strength on the input {before:.2f}, on the default {after:.2f};",
              {label: tuple(round(v, 3) for v in values[-1]) for label, values in rows.items()}, flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
