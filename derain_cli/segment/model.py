"""Semantic segmentation: built-in networks (ESPNet, ESPNetv2) or any Hugging Face checkpoint (transformers
is imported only when one is needed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from derain_cli.devices import resolve_device
from derain_cli.errors import DerainError, load_failure
from derain_cli.imageio import to_uint8
from derain_cli.losses.base import IMAGENET_MEAN, IMAGENET_STD, ImageNetNormalize
from derain_cli.segment.metrics import class_iou, confusion_matrix
from derain_cli.segment.palette import MAX_CLASSES, palette_for
from derain_cli.weights.download import notice
from derain_cli.weights.registry import SegmentationEntry, load_registry

INSTALL_HINT = 'pip install "derain-cli[segment]" (from a checkout: pip install -e ".[segment]")'
# What to do instead when a built-in network's checkpoint cannot be had (the --weights of deraining does not apply).
SEG_MODEL_HINT = "choose another --seg-model (a weights.toml name, a Hugging Face id or a save_pretrained folder)"


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
    (or, for a built-in network, its name) and revision; anything else -> a Hub id as given."""
    entry = registered_entry(model)
    if entry is None:
        return model, None
    return (entry.hf_repo or entry.name), entry.revision


def registered_entry(model: str | None) -> SegmentationEntry | None:
    """The weights.toml entry ``--seg-model`` names (None: the default one); None for a folder or Hub id."""
    if model is not None and Path(model).is_dir():
        return None
    registry = load_registry()
    return registry.default_segmentation() if model is None else registry.segmentation.get(model)


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


def _check_loading(name: str, loading: dict[str, list[object]]) -> None:
    """Refuse a checkpoint whose tensors do not all fit: transformers would fill the gaps with random
    weights (its warning silenced) and segment with an untrained head, exit status 0."""
    for key, what in (("missing_keys", "lacks"), ("unexpected_keys", "holds unexpected"), ("mismatched_keys", "holds mis-shaped")):
        found = list(loading.get(key) or [])
        if found:
            first = found[0][0] if isinstance(found[0], tuple) else found[0]
            raise DerainError(
                f"segmentation model {name}: the checkpoint {what} weights ({len(found)}, such as {first!r}); "
                "a broken or foreign model folder"
            )


def as_uint8(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB as it is; float RGB in [0, 1] rounded to uint8 (as a saved 8-bit image holds it)."""
    return rgb if rgb.dtype == np.uint8 else to_uint8(rgb)


class HubNetwork(nn.Module):
    """A transformers segmentation model as a function of RGB in [0, 1]: (logits, encoder hidden states).

    Inputs are normalised with the model's image-processor statistics and fed at their own size."""

    def __init__(self, network: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.network = network
        self.normalize = ImageNetNormalize(tuple(mean), tuple(std))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        outputs = self.network(pixel_values=self.normalize(x), output_hidden_states=True)
        hidden = getattr(outputs, "encoder_hidden_states", None) or getattr(outputs, "hidden_states", None) or ()
        return outputs.logits, tuple(hidden)


class Segmenter:
    """A semantic-segmentation network: ``Segmenter(model, device)``; ``predict(rgb)`` -> H x W class ids.

    ``model`` is a [segmentation.NAME] entry of weights.toml (a built-in network such as
    ``espnet-camvid``, or a Hub model), a Hugging Face checkpoint id (downloaded and cached by
    transformers; honours HF_HOME and HF_HUB_OFFLINE) or a local ``save_pretrained`` folder with its
    image processor. None takes the file's default entry, or its ``offline_default`` entry (with a
    note on stderr) when the default cannot be loaded: no network and not cached, or no transformers.

    ``module`` maps RGB in [0, 1] (N x 3 x H x W) to (logits, encoder features), differentiably (the
    task-driven training stage uses it); ``void`` is the unlabelled class id, never scored.
    """

    def __init__(self, model: str | None = None, device: str = "auto") -> None:
        self.device = resolve_device(device)
        self.processor = None
        self.void: int | None = None
        entry = registered_entry(model)
        if entry is not None and entry.architecture:
            self._load_builtin(entry)
            return
        try:
            self._load_hub(*resolve_model(model))
        except DerainError as exc:
            fallback = load_registry().offline_segmentation() if model is None else None
            if fallback is None:
                raise
            notice(f"{exc}; using the built-in {fallback.name} instead")
            self._load_builtin(fallback)

    def _load_builtin(self, entry: SegmentationEntry) -> None:
        from derain_cli.checkpoints import load_state_dict
        from derain_cli.segment.builtin import BuiltinNetwork, Preprocessing, build_network
        from derain_cli.weights.download import fetch_checkpoint

        where = f"segmentation.{entry.name}"
        state = load_state_dict(fetch_checkpoint(entry.checkpoint, hint=SEG_MODEL_HINT))
        network, multiple = build_network(entry.architecture, entry.options, state, where)
        self.name = entry.name
        self.labels = list(entry.labels)
        self.palette = np.array(entry.palette, dtype=np.uint8) if entry.palette else palette_for(self.labels)
        self.void = entry.void
        self.module = BuiltinNetwork(network, Preprocessing.from_table(where, entry.preprocess), multiple).to(self.device)

    def _load_hub(self, name: str, revision: str | None) -> None:
        transformers = import_transformers()
        self.name = name
        with _quiet(transformers):
            try:
                network, loading = transformers.AutoModelForSemanticSegmentation.from_pretrained(
                    name, revision=revision, output_loading_info=True
                )
                self.processor = transformers.AutoImageProcessor.from_pretrained(name, revision=revision)
            except Exception as exc:  # an untrusted folder: OSError, ValueError, UnpicklingError, safetensors errors, ...
                raise DerainError(f"segmentation model {name}: cannot load it ({load_failure(exc)})") from None
        _check_loading(name, loading)
        id2label = network.config.id2label
        self.labels = [str(id2label.get(i, f"class {i}")) for i in range(network.config.num_labels)]
        if len(self.labels) > MAX_CLASSES:
            raise DerainError(f"segmentation model {name}: {len(self.labels)} classes, at most {MAX_CLASSES} supported")
        self.palette = palette_for(self.labels)
        self.network = network.to(self.device).eval()
        mean = tuple(getattr(self.processor, "image_mean", None) or IMAGENET_MEAN)
        std = tuple(getattr(self.processor, "image_std", None) or IMAGENET_STD)
        self.module = HubNetwork(self.network, mean, std).to(self.device)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def confusion(self, predicted: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """The confusion matrix of a prediction against a reference (void and out-of-range ids left out)."""
        return confusion_matrix(predicted, reference, self.num_classes, self.void)

    def class_iou(self, confusion: np.ndarray) -> dict[str, float]:
        """Each scored class's IoU by name (NaN where the class is in neither map)."""
        iou = class_iou(confusion, self.void)
        return {name: float(iou[k]) for k, name in enumerate(self.labels) if k != self.void}

    @torch.inference_mode()
    def predict(self, image: np.ndarray) -> np.ndarray:
        """Class ids (H x W uint8) of an H x W x 3 RGB image (uint8, or float in [0, 1]), at its size."""
        pixels = as_uint8(image)
        if self.processor is None:
            return self.module.predict(pixels, self.device)
        inputs = self.processor(images=pixels, return_tensors="pt")
        logits = self.network(pixel_values=inputs["pixel_values"].to(self.device)).logits
        upsampled = F.interpolate(logits.float(), size=pixels.shape[:2], mode="bilinear", align_corners=False)
        return upsampled[0].argmax(dim=0).to(torch.uint8).cpu().numpy()
