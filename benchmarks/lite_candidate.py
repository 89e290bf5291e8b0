"""Judge a LiteNet checkpoint against the shipped ``lite`` by the rule of docs/lite.md (issue 26), on validation data only.

    python -m benchmarks.lite_candidate benchmarks/runs/lite-s4c48/checkpoints/last.pt /tmp/candidate.safetensors

Writes the file that would ship (the checkpoint's weights in fp16, its architecture in the metadata: a bundled model
must stay under 1 MB) and measures it and the shipped ``lite`` in one process:
- the five rainy photo validation sets of ``benchmarks.gpu_realrain.val_sets`` (fp32; their mean PSNR-Y) and their
  rain-free photos against themselves (``clean/``);
- the tuning videos (``benchmarks.video.temporal_tuning build``) through the video path, temporal stage on, bf16
  where the CPU has it (what ``derain video`` runs): PSNR-Y, SSIM-Y, warping error x1e3;
- the network's seconds for a 640x480 frame in bf16 where the CPU has it, else fp32 (``--precision auto``; median of
  alternating runs: the two are timed in turn).
Prints a Markdown table and one JSON line with the verdict. Never give it a test set.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from derain_cli import Derainer
from derain_cli.checkpoints import load_state_dict, read_metadata, save_safetensors
from derain_cli.evaluate import evaluate
from derain_cli.pairs import find_pairs, rain_free_set
from derain_cli.train.run import RunFolder
from derain_cli.video.evaluate import evaluate_video
from derain_cli.video.sets import find_video_set

RAINY_SETS = ("layered", "rth", "heavy", "storm", "mix")
SHIPPED = "lite"


def shippable(checkpoint: Path, output: Path) -> Path:
    """The checkpoint's weights (a run's last.pt or a safetensors file) in fp16, with the architecture's metadata."""
    if checkpoint.suffix == ".pt":
        run = RunFolder(checkpoint.parent.parent)  # reads a compact last.pt's weights file too
        state = run.load_checkpoint()
        weights = state["model"]
        meta = {**read_metadata(run.model), "step": str(state["step"])}  # the run's model file: the architecture
    else:
        weights, meta = load_state_dict(checkpoint), read_metadata(checkpoint)
    save_safetensors({k: v.half() for k, v in weights.items()}, output, {**meta, "stored": "fp16"}, overwrite=True)
    return output


def photo_scores(derainer: Derainer, val_root: Path) -> dict[str, float]:
    """PSNR-Y of each rainy validation set, their mean, and rain-free photos against themselves (fp32)."""
    scores = {}
    for name in RAINY_SETS:
        report = evaluate(find_pairs(val_root / name), {"m": derainer})
        scores[name] = report.models["m"].mean().psnr
    scores["mean"] = statistics.fmean(scores[name] for name in RAINY_SETS)
    scores["rain_free"] = evaluate(rain_free_set(val_root / "clean"), {"m": derainer}).models["m"].mean().psnr
    return scores


def video_scores(derainer: Derainer, tuning: Path) -> dict[str, float]:
    summary = evaluate_video(find_video_set(tuning), {"m": derainer}, temporal=3).summary("m")
    return {"psnr": summary.psnr, "ssim": summary.ssim, "warping": summary.warping_error}


def network_seconds(derainers: dict[str, Derainer], rounds: int = 7) -> dict[str, float]:
    """Median seconds a 640x480 frame through each network, timed in turn so that machine drift hits both."""
    frame = (np.random.default_rng(0).random((480, 640, 3)) * 255).astype(np.uint8)
    times: dict[str, list[float]] = {name: [] for name in derainers}
    for derainer in derainers.values():
        derainer(frame)  # warm-up
    for _ in range(rounds):
        for name, derainer in derainers.items():
            start = time.perf_counter()
            derainer(frame)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def verdict(base: dict, cand: dict) -> dict[str, bool]:
    """docs/lite.md's rule, fixed before the run's numbers: each condition against the shipped model."""
    return {
        "tuning videos, all three": cand["video"]["psnr"] >= base["video"]["psnr"] and cand["video"]["ssim"] >= base["video"]["ssim"]
        and cand["video"]["warping"] <= base["video"]["warping"],
        "photo validation mean higher": cand["photo"]["mean"] > base["photo"]["mean"],
        "rain-free not worse": cand["photo"]["rain_free"] >= base["photo"]["rain_free"],
        "network not slower": cand["seconds"] <= base["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a run's checkpoints/last.pt or a LiteNet safetensors file")
    parser.add_argument("output", type=Path, help="where to write the fp16 file that would ship")
    parser.add_argument("--val", type=Path, default=Path("/work/data/val_urban"), help="benchmarks.gpu_realrain.val_sets output")
    parser.add_argument("--tuning", type=Path, default=Path("/work/data/tuning"), help="benchmarks.video.temporal_tuning build output")
    args = parser.parse_args()
    candidate = shippable(args.checkpoint, args.output)
    results: dict[str, dict] = {}
    for label, weights in ((SHIPPED, None), ("candidate", candidate)):
        model = SHIPPED if weights is None else "litenet"
        results[label] = {
            "photo": photo_scores(Derainer(model, weights=weights, device="cpu", precision="fp32"), args.val),
            "video": video_scores(Derainer(model, weights=weights, device="cpu", precision="auto"), args.tuning),
        }
    seconds = network_seconds({label: Derainer(SHIPPED if label == SHIPPED else "litenet", weights=None if label == SHIPPED
                                               else candidate, device="cpu", precision="auto") for label in results})
    for label, value in seconds.items():
        results[label]["seconds"] = value
    checks = verdict(results[SHIPPED], results["candidate"])
    print(f"| model | {' / '.join(RAINY_SETS)} (mean); rain-free | tuning videos + stage | 640x480 network s |\n|---|---|---|---|")
    for label, r in results.items():
        photo, video = r["photo"], r["video"]
        print(f"| {label} | {' / '.join(f'{photo[n]:.2f}' for n in RAINY_SETS)} ({photo['mean']:.2f}); {photo['rain_free']:.2f} "
              f"| {video['psnr']:.2f} / {video['ssim']:.4f} / {video['warping']:.3f} | {r['seconds']:.4f} |")
    print(json.dumps({"checkpoint": str(args.checkpoint), "step": read_metadata(candidate).get("step"), "results": results,
                      "checks": checks, "replaces_lite": all(checks.values())}))


if __name__ == "__main__":
    main()
