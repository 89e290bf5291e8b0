"""Train the temporal stage's learned blend (derain_cli/video/blend.py) and score it against the vote.

    python -m benchmarks.video.temporal_tuning build /work/data/blend_train --split train --sequences 54 --frames 12
    python -m benchmarks.video.blend_train features /work/data/blend_train --model sapnet-realrain-v2 sapnet-realrain
    python -m benchmarks.video.blend_train train /work/data/blend_train --model sapnet-realrain-v2 sapnet-realrain -o blend.safetensors
    python -m benchmarks.video.blend_train score /work/data/tuning --model sapnet-realrain-v2 --blend blend.safetensors

``features`` derains every frame with each model (cached as temporal_choice.py caches, bf16 where the CPU
has it) and stores what the stage sees for each frame: camera frame, model's frame, the vote's
:class:`~derain_cli.video.temporal.Ballot` (radius 3, as shipped) and the clean frame. ``train`` fits the
blend on random crops of those (L1 on RGB in [0, 1], Adam); outputs of several models are mixed so one
blend serves any model. ``score`` runs the vote and each blend on cached outputs (flow and masks as the shipped stage builds
them, as temporal_variants.py scores variants).

The blend: a small CNN that sees the stage's candidates for frame t (camera frame, model's frame, the
vote, the lower median of the votes) and how many neighbours saw each pixel, and returns softmax weights
over those candidates per pixel: a convex combination, so it can only pick among what the camera and the
model offer. The hope was that it would follow the model where rain is in every frame (drizzle, a
veil: time cannot help there) and the vote where streaks move. Measured on the tuning split it lost to
the plain vote (docs/video.md, third round), so the stage does not ship it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from benchmarks.video.temporal_choice import frames, loaded, measure, print_table, sequences
from benchmarks.video.temporal_variants import align
from derain_cli.derainer import Derainer
from derain_cli.video.processors import make_processor, run_processor
from derain_cli.video.temporal import RADIUS, Ballot, ballot

CACHE = Path("/tmp/temporal_cache")
FIELDS = ("rainy", "derained", "voted", "median", "seen", "clean")
CANDIDATES = 4  # camera frame, model's frame, vote, lower median


class BlendNet(nn.Module):
    """``forward(rainy, derained, voted, median, seen)``: N x 3 x H x W tensors in [0, 1] and the share of
    neighbours that saw each pixel (N x 1 x H x W) -> the blended N x 3 x H x W frame."""

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(CANDIDATES * 3 + 1, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=2, dilation=2), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=4, dilation=4), nn.ReLU(inplace=True),
            nn.Conv2d(width, CANDIDATES, 3, padding=1),
        )  # fmt: skip
        # training starts from the vote (weight e^3 against 1 for each other candidate)
        nn.init.zeros_(self.body[-1].weight)
        with torch.no_grad():
            self.body[-1].bias.copy_(torch.tensor([0.0, 0.0, 3.0, 0.0]))

    def forward(self, rainy: Tensor, derained: Tensor, voted: Tensor, median: Tensor, seen: Tensor) -> Tensor:
        candidates = torch.stack([rainy, derained, voted, median], dim=1)  # N x 4 x 3 x H x W
        features = torch.cat([rainy, derained, voted, median], dim=1) - 0.5
        weights = torch.softmax(self.body(torch.cat([features, seen], dim=1)), dim=1)
        return (weights.unsqueeze(2) * candidates).sum(dim=1)


def _tensor(image: np.ndarray, scale: float = 255.0) -> Tensor:
    """H x W x C array -> 1 x C x H x W float32 divided by ``scale``."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div_(scale)


@torch.inference_mode()
def blend_frame(net: BlendNet, rainy: np.ndarray, derained: np.ndarray, found: Ballot) -> np.ndarray:
    """Frame t (H x W x 3 uint8) from its camera frame, the model's frame and the vote's :class:`Ballot`."""
    seen = _tensor(found.seen[..., None].astype(np.float32), 2.0 * RADIUS)
    out = net(_tensor(rainy), _tensor(derained), _tensor(found.voted), _tensor(found.lower_median), seen)
    return out[0].permute(1, 2, 0).mul_(255.0).round_().clamp_(0, 255).to(torch.uint8).numpy()


def load_blend(path: Path) -> BlendNet:
    from safetensors.torch import load_file

    state = load_file(str(path))
    net = BlendNet(width=state["body.0.weight"].shape[0])
    net.load_state_dict(state)
    return net.eval()


def derained_frames(root: Path, seq: str, model: str, rainy: list[np.ndarray]) -> list[np.ndarray]:
    """The model's frame-by-frame outputs of a sequence, from the cache or computed once."""
    cache = CACHE / model / "auto" / f"{root.name}_{seq}.npy"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, np.stack(run_processor(make_processor(Derainer(model, precision="auto"), temporal=0), rainy)))
    return list(np.load(cache))


def features(root: Path, model: str) -> Path:
    """Every frame's stage inputs and clean frame, stacked per field in one .npz (made once)."""
    out = CACHE / model / "auto" / f"{root.name}_blend_features.npz"
    if out.exists():
        return out
    fields: dict[str, list[np.ndarray]] = {name: [] for name in FIELDS}
    for seq, rainy_folder, clean_folder in sequences(root):
        rainy, clean = frames(rainy_folder), frames(clean_folder)
        derained = derained_frames(root, seq, model, rainy)
        for r, d, c, aligned in zip(rainy, derained, clean, align(rainy, derained, RADIUS, cv2.INTER_CUBIC)):
            found = ballot(r, d, [(n, u) for n, _, u in aligned])
            for name, value in zip(FIELDS, (r, d, found.voted, found.lower_median.astype(np.uint8), found.seen.astype(np.uint8)[..., None], c)):
                fields[name].append(value)
        print(f"{model} {seq}: {len(rainy)} frames", flush=True)
    np.savez(out, **{name: np.stack(values) for name, values in fields.items()})
    return out


def train(roots: list[Path], models: list[str], out: Path, steps: int, patch: int, batch: int, lr: float, seed: int) -> None:
    data = [dict(np.load(features(root, model))) for root in roots for model in models]
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = BlendNet()
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    began = time.time()
    for step in range(1, steps + 1):
        crops: dict[str, list[np.ndarray]] = {name: [] for name in FIELDS}
        for _ in range(batch):
            part = data[rng.integers(len(data))]
            index = rng.integers(len(part["rainy"]))
            height, width = part["rainy"].shape[1:3]
            y, x = rng.integers(height - patch + 1), rng.integers(width - patch + 1)
            for name in FIELDS:
                crops[name].append(part[name][index, y : y + patch, x : x + patch])
        tensors = {name: torch.from_numpy(np.stack(values)).permute(0, 3, 1, 2).float() for name, values in crops.items()}
        for name in FIELDS:
            tensors[name] /= 2.0 * RADIUS if name == "seen" else 255.0
        blended = net(*(tensors[name] for name in FIELDS[:-1]))
        loss = (blended - tensors["clean"]).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == steps:
            print(f"step {step} loss {loss.item():.5f} {time.time() - began:.0f} s", flush=True)
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(out),
              {"data": ",".join(str(r) for r in roots), "models": ",".join(models), "steps": str(steps), "patch": str(patch), "batch": str(batch), "lr": str(lr), "seed": str(seed)})  # fmt: skip


def score(root: Path, model: str, blends: list[Path]) -> None:
    """PSNR-Y / SSIM-Y / warping x1e3 per sequence and their mean: frame by frame, the vote, each blend."""
    rows: dict[str, list[tuple[float, float, float]]] = {}
    nets = {str(path): load_blend(path) for path in blends}
    for seq, rainy, clean in loaded(root):
        derained = derained_frames(root, seq, model, rainy)
        rows.setdefault("frame by frame", []).append(measure(derained, clean, rainy=rainy))
        found = [
            (r, d, ballot(r, d, [(n, u) for n, _, u in aligned]))
            for r, d, aligned in zip(rainy, derained, align(rainy, derained, RADIUS, cv2.INTER_CUBIC))
        ]
        rows.setdefault("vote", []).append(measure([f.voted for _, _, f in found], clean, rainy=rainy))
        for label, net in nets.items():
            rows.setdefault(label, []).append(measure([blend_frame(net, r, d, f) for r, d, f in found], clean, rainy=rainy))
        print(seq, {label: tuple(round(v, 3) for v in values[-1]) for label, values in rows.items()}, flush=True)
    print_table(rows, f"{model} | ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["features", "train", "score"])
    parser.add_argument("set", type=Path, nargs="+")
    parser.add_argument("--model", nargs="+", default=["sapnet-realrain-v2"])
    parser.add_argument("-o", "--output", type=Path, default=Path("blend.safetensors"))
    parser.add_argument("--blend", type=Path, nargs="*", default=[])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    if args.command == "features":
        for root in args.set:
            for model in args.model:
                features(root, model)
    elif args.command == "train":
        train(args.set, args.model, args.output, args.steps, args.patch, args.batch, args.lr, args.seed)
    else:
        for root in args.set:
            for model in args.model:
                score(root, model, args.blend)


if __name__ == "__main__":
    main()
