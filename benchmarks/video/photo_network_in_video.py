"""Eighth round of the video default (docs/video.md): ways to bring the photo default's network
(`sapnet-realrain-v3`, the first network of `sapnet-realrain-v4`) into the video default, scored on cached
frame-by-frame outputs of the validation videos (never a test set), against the default itself
(`s2vd` and `sapnet-realrain`, each under the shipped stage, averaged).

    python -m benchmarks.video.temporal_choice SET --model MODEL --radius 3     # MODEL: s2vd, sapnet-realrain, sapnet-realrain-v3
    python -m benchmarks.video.photo_network_in_video SET

Candidates: the network frame by frame, under the stage (also with its aligned outputs voting beside the
camera's frames, so that the vote follows the network more), with a derained temporal mean (each frame the mean
of its aligned derained neighbours within 24 grey levels of it: steadier, no camera pixels); the default with
the network in place of `sapnet-realrain`, or beside them (under its own stage, or frame by frame); the
default with the network's tone (a Gaussian of network minus default added to the default, or only where
it darkens); the darker of the default and the network per pixel; and a route per frame by the network's rain strength
(derain_cli.rain_route): the derained temporal mean below ``low``, the default above ``high``, a linear
blend between (faint rain, where time cannot outvote the rain, goes to the photo network).
Prints PSNR-Y / SSIM-Y / warping error x1e3 per sequence and their means.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.video.ensemble_choice import shipped_stage
from benchmarks.video.temporal_choice import cache_parser, cached, loaded, measure, print_table, rounded_mean
from benchmarks.video.temporal_variants import Aligned, align, robust_mean, voters
from derain_cli.rain_route import RainRoute, rain_strength
from derain_cli.video.temporal import RADIUS, TOLERANCE

NETWORK = "sapnet-realrain-v3"
ROUTES = ((0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (5.0, 10.0))
AGREE = 24  # grey levels: a derained neighbour further than this from the frame is not averaged in


def staged(cache: Path, model: str, root: Path, seq: str, rainy: list[np.ndarray]) -> list[np.ndarray]:
    """A model's cached outputs under the shipped stage (cached in turn, under ``cache/staged``)."""
    path = cache / "staged" / model / f"{root.name}_{seq}.npy"
    if path.exists():
        return list(np.load(path))
    derained = cached(cache, model, root, seq)
    out = shipped_stage(rainy, derained)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.stack(out))
    return out


def temporal_mean(derained: list[np.ndarray], aligned: list[Aligned]) -> list[np.ndarray]:
    """Each derained frame averaged with its ``aligned`` derained neighbours that are visible and within AGREE."""
    out = []
    for frame, neighbours in zip(derained, aligned):
        centre = frame.astype(np.float32)
        total, count = centre.copy(), np.ones_like(centre)
        for _, warped, usable in neighbours:
            warped = warped.astype(np.float32)
            near = usable[..., None] & (np.abs(warped - centre) <= AGREE)
            total += np.where(near, warped, 0)
            count += near
        out.append(np.rint(total / count).astype(np.uint8))
    return out


def with_tone(base: list[np.ndarray], network: list[np.ndarray], sigma: float, darker_only: bool = False) -> list[np.ndarray]:
    """``base`` plus a Gaussian (``sigma`` px) of ``network - base``: the network's tone, the base's detail."""
    out = []
    for b, n in zip(base, network):
        tone = cv2.GaussianBlur(n.astype(np.float32) - b.astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        out.append(np.clip(np.rint(b + (np.minimum(tone, 0) if darker_only else tone)), 0, 255).astype(np.uint8))
    return out


def strengths(rainy: list[np.ndarray], derained: list[np.ndarray]) -> torch.Tensor:
    """Per frame, the photo route's rain strength (grey levels the network removes)."""
    def batch(frames: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255

    return rain_strength(batch(rainy), batch(derained))


def candidates(cache: Path, root: Path, seq: str, rainy: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    s2vd, first = staged(cache, "s2vd", root, seq, rainy), staged(cache, "sapnet-realrain", root, seq, rainy)
    network, network_staged = cached(cache, NETWORK, root, seq), staged(cache, NETWORK, root, seq, rainy)
    aligned = align(rainy, network, RADIUS, cv2.INTER_CUBIC)
    default, mean = rounded_mean([s2vd, first]), temporal_mean(network, aligned)
    followed = [robust_mean(voters(r, n, a, derained_neighbours=True), TOLERANCE) for r, n, a in zip(rainy, network, aligned)]
    darker = [np.minimum(d, n) for d, n in zip(default, network)]
    rows = {
        "the default (s2vd, sapnet-realrain, each + stage)": default,
        f"{NETWORK} frame by frame": network,
        f"{NETWORK} + stage": network_staged,
        f"{NETWORK} + derained temporal mean": mean,
        f"{NETWORK} + stage, its aligned outputs voting too": followed,
        f"s2vd + stage, {NETWORK} + stage with its outputs voting": rounded_mean([s2vd, followed]),
        f"s2vd, sapnet-realrain, each + stage, {NETWORK} + stage with its outputs voting": rounded_mean([s2vd, first, followed]),
        f"s2vd, {NETWORK}, each + stage": rounded_mean([s2vd, network_staged]),
        f"s2vd, sapnet-realrain, {NETWORK}, each + stage": rounded_mean([s2vd, first, network_staged]),
        f"the default's two + {NETWORK} frame by frame": rounded_mean([s2vd, first, network]),
        **{f"the default + the network's tone, sigma {s}": with_tone(default, network, s) for s in (8, 16, 32)},
        "the default + the network's tone, sigma 16, dark": with_tone(default, network, 16, darker_only=True),
        "the darker of the default and the network": darker,
        "half the default, half the darker": rounded_mean([default, darker]),
    }
    strength = strengths(rainy, network)
    for low, high in ROUTES:
        share = RainRoute("", low, high).share(strength).tolist()  # the default's share
        rows[f"route {low:g}-{high:g}: temporal mean below, default above"] = [
            np.rint(w * d.astype(np.float32) + (1 - w) * m).astype(np.uint8) for w, d, m in zip(share, default, mean)
        ]
    return rows


def main() -> None:
    args = cache_parser(__doc__).parse_args()
    rows: dict[str, list[tuple[float, float, float]]] = {}
    for seq, rainy, clean in loaded(args.set):
        for label, frames in {"rainy input": rainy, **candidates(args.cache, args.set, seq, rainy)}.items():
            rows.setdefault(label, []).append(measure(frames, clean, rainy=rainy))
        print(seq, {label: tuple(round(v, 3) for v in values[-1]) for label, values in rows.items()}, flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
