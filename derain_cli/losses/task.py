"""Task-driven stage (ICONIP 2020 two-stage joint training): semantic losses from a frozen segmentation model.

Any Hugging Face semantic-segmentation checkpoint serves (loaded through :class:`derain_cli.segment.Segmenter`).
Cross-entropy of its prediction on the derained output against its prediction on the clean image (or
the dataset's labels), and matching of its encoder features on the two.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from derain_cli.errors import DerainError
from derain_cli.losses.base import IMAGENET_MEAN, IMAGENET_STD, FrozenNet, ImageNetNormalize, LossBatch

IGNORE_LABEL = 255


class FrozenSegmenter(FrozenNet):
    """A Hugging Face segmentation network: RGB in [0, 1] -> (logits, encoder hidden states), weights frozen.

    Inputs are normalised with the model's own image-processor statistics (ImageNet's by default) and
    fed at their own size (no resizing), so gradients reach the derained image unchanged.
    """

    def __init__(
        self, network: nn.Module, name: str, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD
    ) -> None:
        super().__init__()
        self.network = network
        self.name = name
        self.normalize = ImageNetNormalize(tuple(mean), tuple(std))
        self.freeze()

    @classmethod
    def from_pretrained(cls, model: str | None, device: str = "cpu") -> FrozenSegmenter:
        """Load a checkpoint id (Hugging Face cache, honours HF_HUB_OFFLINE) or a ``save_pretrained`` folder."""
        from derain_cli.segment.model import Segmenter

        segmenter = Segmenter(model, device)
        processor = segmenter.processor
        mean = tuple(getattr(processor, "image_mean", None) or IMAGENET_MEAN)
        std = tuple(getattr(processor, "image_std", None) or IMAGENET_STD)
        return cls(segmenter.network, segmenter.name, mean, std).to(segmenter.device)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        outputs = self.network(pixel_values=self.normalize(x), output_hidden_states=True)
        hidden = getattr(outputs, "encoder_hidden_states", None) or getattr(outputs, "hidden_states", None) or ()
        return outputs.logits, tuple(hidden)

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
        return F.cross_entropy(logits, target)


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
