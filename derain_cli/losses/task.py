"""Task-driven stage (ICONIP 2020 two-stage joint training): semantic losses from a frozen segmentation model.

Any model :class:`derain_cli.segment.Segmenter` loads serves: a built-in ESPNet/ESPNetv2 or a Hugging Face checkpoint.
Cross-entropy of its prediction on the derained output against its prediction on the clean image (or
the dataset's labels), and matching of its encoder features on the two.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.errors import DerainError
from derain_cli.losses.base import FrozenNet, LossBatch

IGNORE_LABEL = 255


class FrozenSegmenter(FrozenNet):
    """A segmentation network as RGB in [0, 1] -> (logits, encoder features), weights frozen.

    ``network`` is a :attr:`derain_cli.segment.Segmenter.module`: a built-in network (the authors'
    preprocessing, at the input's own size rounded to the multiple it needs, logits back at the input
    size) or a Hugging Face model (its image-processor statistics, its own output resolution). No
    resizing to the model's inference size, so gradients reach the derained image unchanged.
    """

    def __init__(self, network: nn.Module, name: str, void: int | None = None) -> None:
        super().__init__()
        self.network = network
        self.name = name
        self.void = void  # the unlabelled class: clean pixels predicted void are no CE target
        self.freeze()

    @classmethod
    def from_pretrained(cls, model: str | None, device: str = "cpu") -> FrozenSegmenter:
        """Load a weights.toml segmentation entry, a checkpoint id (Hugging Face cache) or a ``save_pretrained`` folder."""
        from derain_cli.segment.model import Segmenter

        segmenter = Segmenter(model, device)
        return cls(segmenter.module, segmenter.name, segmenter.void).to(segmenter.device)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        return self.network(x)

    def of(self, batch: LossBatch, which: str) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Prediction on ``batch.<which>`` (output or clean), computed once per step."""
        return batch.memo((id(self), which), lambda: self(getattr(batch, which)))


class SemanticCrossEntropy(nn.Module):
    """CE of the segmenter's logits on the output vs its arg-max on the clean image (or ``batch.labels``, 255 = ignore)."""

    def __init__(self, segmenter: FrozenSegmenter) -> None:
        super().__init__()
        self.segmenter = segmenter

    def forward(self, batch: LossBatch) -> Tensor:
        logits, _ = self.segmenter.of(batch, "output")
        logits = logits.float()
        if batch.labels is not None:
            logits = F.interpolate(logits, size=batch.labels.shape[-2:], mode="bilinear", align_corners=False)
            return F.cross_entropy(logits, batch.labels.long(), ignore_index=IGNORE_LABEL)
        target = self.segmenter.of(batch, "clean")[0].argmax(dim=1).detach()
        if self.segmenter.void is not None:
            target = target.masked_fill(target == self.segmenter.void, IGNORE_LABEL)
        return F.cross_entropy(logits, target, ignore_index=IGNORE_LABEL)


class FeatureMatching(nn.Module):
    """Mean over encoder stages of the MSE between the segmenter's features on the output and on the clean image."""

    def __init__(self, segmenter: FrozenSegmenter) -> None:
        super().__init__()
        self.segmenter = segmenter

    def forward(self, batch: LossBatch) -> Tensor:
        output, clean = self.segmenter.of(batch, "output")[1], self.segmenter.of(batch, "clean")[1]
        if not output:
            raise DerainError(
                f"segmentation model {self.segmenter.name} exposes no encoder features; set the feature weight to 0"
            )
        terms = [F.mse_loss(a.float(), b.float().detach()) for a, b in zip(output, clean)]
        return sum(terms[1:], terms[0]) / len(terms)
