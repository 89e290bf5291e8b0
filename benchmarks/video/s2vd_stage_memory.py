"""Peak activation bytes per voxel of S2VD's two stages (rain estimate, tail), the numbers behind its
band plan (``derain_cli.models.s2vd.STAGE_BYTES``). One stage and one type per run, in a fresh process:

    python benchmarks/video/s2vd_stage_memory.py rain fp32 --weights ../shared/weights/s2vd_nturain.pt

Measured as the growth of the process's peak RSS over a tiny warm-up pass, on 8 frames of 640 x 192
(large enough for oneDNN's kernels: smaller inputs fall back to an unfolding kernel with other costs).
"""

from __future__ import annotations

import argparse
import resource

import torch

from derain_cli.checkpoints import load_into
from derain_cli.models import create_model

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("rain", "tail"))
    parser.add_argument("precision", choices=tuple(DTYPES))
    parser.add_argument("--weights", required=True)
    parser.add_argument("--shape", default="8,192,640", help="frames,rows,columns")
    args = parser.parse_args()
    frames, rows, columns = (int(v) for v in args.shape.split(","))
    torch.set_num_threads(1)
    network = load_into(create_model("s2vd"), args.weights).eval().to(memory_format=torch.channels_last_3d)
    clip = torch.rand(1, 3, frames, rows, columns).contiguous(memory_format=torch.channels_last_3d)
    stage = network.rain if args.stage == "rain" else network.tail
    dtype = DTYPES[args.precision]
    with torch.inference_mode(), torch.autocast("cpu", dtype, enabled=dtype != torch.float32):
        stage(clip[:, :, :, :8])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stage(clip)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print(f"{args.stage} {args.precision}: {grown / (frames * rows * columns):.0f} bytes per voxel")


if __name__ == "__main__":
    main()
