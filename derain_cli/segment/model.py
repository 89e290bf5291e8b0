"""Semantic segmentation with any Hugging Face checkpoint (transformers is imported only when needed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F

from derain_cli.devices import resolve_device
from derain_cli.errors import DerainError
from derain_cli.imageio import to_uint8
from derain_cli.segment.palette import MAX_CLASSES, palette_for
from derain_cli.weights.registry import load_registry

INSTALL_HINT = 'pip install "derain-cli[segment]" (from a checkout: pip install -e ".[segment]")'


def import_transformers() -> ModuleType:
    """The transformers module, or a DerainError with the install command when it is missing."""
    try:
        import transformers
    except ImportError:
        raise DerainError(f"segmentation needs the transformers package, which is not installed: {INSTALL_HINT}") from None
    return transformers


def resolve_model(model: str | None) -> tuple[str, str | None]:
    """(checkpoint id or folder, revision) for ``--seg-model``: a local folder as given; None -> the
    ``default = true`` entry of weights.toml's [segmentation.*] tables; an entry's name -> its Hub repo
    and revision; anything else -> a Hub id as given (its default branch)."""
    if model is not None and Path(model).is_dir():
        return model, None
    registry = load_registry()
    entry = registry.default_segmentation() if model is None else registry.segmentation.get(model)
    return (entry.hf_repo, entry.revision) if entry else (model, None)


@contextmanager
def _quiet(transformers: ModuleType) -> Iterator[None]:
    """Silence transformers' warnings and per-load progress bars, then restore its settings."""
    logging = transformers.utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def as_uint8(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB as it is; float RGB in [0, 1] rounded to uint8 (as a saved 8-bit image holds it)."""
    return rgb if rgb.dtype == np.uint8 else to_uint8(rgb)


class Segmenter:
    """A semantic-segmentation network: ``Segmenter(model, device)``; ``predict(rgb)`` -> H x W class ids.

    ``model`` is a Hugging Face checkpoint id (downloaded and cached by transformers; honours HF_HOME
    and HF_HUB_OFFLINE), a local folder written by ``save_pretrained`` with its image processor, or
    a [segmentation.NAME] entry of weights.toml; None takes that file's default entry.
    """

    def __init__(self, model: str | None = None, device: str = "auto") -> None:
        transformers = import_transformers()
        self.name, revision = resolve_model(model)
        self.device = resolve_device(device)
        with _quiet(transformers):
            try:
                network = transformers.AutoModelForSemanticSegmentation.from_pretrained(self.name, revision=revision)
                self.processor = transformers.AutoImageProcessor.from_pretrained(self.name, revision=revision)
            except (OSError, ValueError, KeyError) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise DerainError(f"segmentation model {self.name}: cannot load it ({reason})") from None
        id2label = network.config.id2label
        self.labels = [str(id2label.get(i, f"class {i}")) for i in range(network.config.num_labels)]
        if len(self.labels) > MAX_CLASSES:
            raise DerainError(f"segmentation model {self.name}: {len(self.labels)} classes, at most {MAX_CLASSES} supported")
        self.palette = palette_for(self.labels)
        self.network = network.to(self.device).eval()

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @torch.inference_mode()
    def predict(self, image: np.ndarray) -> np.ndarray:
        """Class ids (H x W uint8) of an H x W x 3 RGB image (uint8, or float in [0, 1]), at its size."""
        pixels = as_uint8(image)
        inputs = self.processor(images=pixels, return_tensors="pt")
        logits = self.network(pixel_values=inputs["pixel_values"].to(self.device)).logits
        upsampled = F.interpolate(logits.float(), size=pixels.shape[:2], mode="bilinear", align_corners=False)
        return upsampled[0].argmax(dim=0).to(torch.uint8).cpu().numpy()
