"""S2VD's whole network on one clip in three ways, in one process: fp32 in the default layout, fp32
channels-last (what ``Derainer`` runs) and bf16 autocast channels-last; best of 2 per round, 2 rounds.

    python benchmarks/video/s2vd_precision_speed.py --weights ../shared/weights/s2vd_nturain.pt [--shape 10,240,320]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from derain_cli.checkpoints import load_into
from derain_cli.models import create_model


def best_of(run: Callable[[], torch.Tensor], repeats: int = 2) -> tuple[float, torch.Tensor]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    assert out is not None
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--shape", default="10,240,320", help="frames,rows,columns")
    args = parser.parse_args()
    frames, rows, columns = (int(v) for v in args.shape.split(","))
    plain = load_into(create_model("s2vd"), args.weights).eval()
    last = load_into(create_model("s2vd"), args.weights).eval().to(memory_format=torch.channels_last_3d)
    clip = torch.rand(1, 3, frames, rows, columns)
    clip_last = clip.contiguous(memory_format=torch.channels_last_3d)

    def bf16() -> torch.Tensor:
        with torch.autocast("cpu", torch.bfloat16):
            return last(clip_last).float()

    with torch.inference_mode():
        for _ in range(2):
            t_plain, ref = best_of(lambda: plain(clip))
            t_last, out_last = best_of(lambda: last(clip_last))
            t_bf16, out_bf16 = best_of(bf16)
            print(
                f"fp32 {t_plain:.2f} s | fp32 channels-last {t_last:.2f} s ({t_plain / t_last:.2f}x, "
                f"max diff {(out_last - ref).abs().max():.1e}) | bf16 channels-last {t_bf16:.2f} s "
                f"({t_plain / t_bf16:.2f}x, max diff {(out_bf16 - ref).abs().max():.1e})",
                flush=True,
            )


if __name__ == "__main__":
    main()
