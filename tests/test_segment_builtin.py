"""Built-in segmentation networks with the authors' real weights (ESPNet CamVid / Cityscapes, ESPNetv2),
the void class left out of mIoU, and `--seg-model espnet-camvid` on the commands. Skipped without ../shared."""

import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from conftest import shared_file
from derain_cli.cli import app
from derain_cli.losses.base import LossBatch
from derain_cli.losses.task import FeatureMatching, FrozenSegmenter, SemanticCrossEntropy
from derain_cli.segment import Segmenter, confusion_matrix, mean_iou
from derain_cli.segment.metrics import miou_from_confusion

FRAME = "0016E5_07959"  # a CamVid validation frame with its label mask
BUILTINS = {"espnet-camvid": 12, "espnet-cityscapes": 20, "espnetv2-cityscapes": 20}


@pytest.fixture(autouse=True)
def shared_weights(monkeypatch):
    """The authors' files from ../shared/weights, never the network."""
    folder = shared_file("weights/espnet_p2q8_camvid.pth").parent
    for name in ("espnet_p2q8_cityscapes.pth", "espnetv2_s2.0_cityscapes.pth"):
        shared_file(f"weights/{name}")
    monkeypatch.setenv("DERAIN_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def camvid():
    """(RGB frame, label mask) of one CamVid validation frame."""
    root = shared_file("data/camvid_val")
    with Image.open(root / "images" / f"{FRAME}.png") as image, Image.open(root / "labels" / f"{FRAME}.png") as labels:
        return np.asarray(image.convert("RGB")), np.asarray(labels)


@pytest.mark.parametrize("name", BUILTINS)
def test_forward_shapes_at_any_size_and_gradients_to_the_input(name):
    segmenter = Segmenter(name, device="cpu")
    assert segmenter.num_classes == BUILTINS[name] and segmenter.void == BUILTINS[name] - 1
    assert segmenter.palette.shape == (segmenter.num_classes, 3)
    labels = segmenter.predict(np.random.default_rng(0).integers(0, 256, (75, 130, 3), dtype=np.uint8))
    assert labels.shape == (75, 130) and labels.dtype == np.uint8 and labels.max() < segmenter.num_classes
    x = torch.rand(1, 3, 100, 100, requires_grad=True)  # a training patch: not a multiple of 8 or 32
    logits, features = segmenter.module(x)
    assert logits.shape == (1, segmenter.num_classes, 100, 100) and len(features) >= 3
    logits.logsumexp(1).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_espnet_camvid_scores_a_labelled_frame_high(camvid):
    rgb, labels = camvid
    segmenter = Segmenter("espnet-camvid", device="cpu")
    predicted = segmenter.predict(rgb)
    miou = mean_iou(predicted, labels, segmenter.num_classes, segmenter.void)
    assert miou > 0.65, miou  # measured 0.705 on this frame
    iou = segmenter.class_iou(segmenter.confusion(predicted, labels))
    assert iou["Road"] > 0.95 and iou["Car"] > 0.8 and "void" not in iou
    noise = np.random.default_rng(1).integers(0, 256, rgb.shape, dtype=np.uint8)
    assert mean_iou(segmenter.predict(noise), labels, segmenter.num_classes, segmenter.void) < 0.2


def test_void_labels_are_ignored_and_void_predictions_are_misses(camvid):
    rgb, labels = camvid
    segmenter = Segmenter("espnet-camvid", device="cpu")
    predicted = segmenter.predict(rgb)
    assert (labels == 11).any()  # the frame has void pixels
    as_255 = np.where(labels == 11, 255, labels)  # the same pixels marked "outside the classes"
    assert segmenter.confusion(predicted, labels).tolist() == segmenter.confusion(predicted, as_255).tolist()
    # by hand: void reference pixels leave the matrix; a labelled pixel predicted void is a miss of its class
    reference = np.array([[0, 0, 11, 11], [1, 1, 1, 11]])
    guess = np.array([[0, 0, 0, 1], [1, 1, 11, 11]])
    confusion = confusion_matrix(guess, reference, 12, void=11)
    assert confusion.sum() == 5 and confusion[1, 11] == 1
    assert miou_from_confusion(confusion, void=11) == pytest.approx((1.0 + 2 / 3) / 2)  # class 0: 2/2, class 1: 2/3


def test_frozen_task_stage_on_espnet_camvid():
    segmenter = FrozenSegmenter.from_pretrained("espnet-camvid", "cpu")
    assert segmenter.void == 11 and not any(p.requires_grad for p in segmenter.parameters())
    clean = torch.rand(2, 3, 64, 64)
    output = clean.clone().add_(0.1 * torch.randn_like(clean)).clamp_(0, 1).requires_grad_(True)
    batch = LossBatch(output, clean, clean)
    loss = SemanticCrossEntropy(segmenter)(batch) + FeatureMatching(segmenter)(batch)
    loss.backward()
    assert loss.item() > 0 and output.grad.abs().sum() > 0
    assert FeatureMatching(segmenter)(LossBatch(clean, clean, clean)).item() == pytest.approx(0.0, abs=1e-9)


def test_default_falls_back_to_builtin_espnet_without_transformers(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "transformers", None)
    segmenter = Segmenter(device="cpu")
    assert segmenter.name == "espnet-cityscapes"
    assert "using the built-in espnet-cityscapes" in capsys.readouterr().err


def test_eval_reports_miou_against_the_labels(tmp_path, camvid, tiny_weights):
    rgb, labels = (a[180:, :240] for a in camvid)  # a quarter of the frame keeps the test quick
    data = tmp_path / "rainy_camvid"
    for folder in ("input", "target", "labels"):
        (data / folder).mkdir(parents=True)
    rainy = np.clip(rgb.astype(int) * 0.7 + 60, 0, 255).astype(np.uint8)  # a veil
    Image.fromarray(rainy).save(data / "input" / f"{FRAME}.png")
    Image.fromarray(rgb).save(data / "target" / f"{FRAME}.png")
    Image.fromarray(labels).save(data / "labels" / f"{FRAME}.png")
    result = CliRunner().invoke(app, ["eval", "--data", str(data), "-m", "sapnet", "-w", str(tiny_weights), "-d", "cpu",
                                      "-q", "--segment", "--seg-model", "espnet-camvid", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    segmenter = Segmenter("espnet-camvid", device="cpu")
    expected = mean_iou(segmenter.predict(rainy), labels, 12, 11)
    assert report["rainy"]["miou"] == pytest.approx(expected, abs=1e-6)
    assert report["rainy"]["miou_clean"] == pytest.approx(mean_iou(segmenter.predict(rainy), segmenter.predict(rgb), 12, 11), abs=1e-6)
    assert 0.0 <= report["models"]["sapnet"]["miou"] <= 1.0


def test_a_wrong_file_under_the_right_name_is_refused_by_its_sha256(tmp_path, monkeypatch):
    from derain_cli.errors import DerainError

    cityscapes = shared_file("weights/espnet_p2q8_cityscapes.pth")
    (tmp_path / "espnet_p2q8_camvid.pth").write_bytes(cityscapes.read_bytes())  # the wrong file under the right name
    monkeypatch.setenv("DERAIN_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(DerainError, match="sha256"):
        Segmenter("espnet-camvid", device="cpu")


def test_the_two_espnet_decoders_fit_their_own_checkpoints_only():
    from derain_cli.checkpoints import load_state_dict
    from derain_cli.errors import DerainError
    from derain_cli.segment.builtin import build_network

    state = load_state_dict(shared_file("weights/espnet_p2q8_cityscapes.pth"))
    build_network("espnet", {"classes": 20, "image_skip": False}, state, "here")  # test/Model.py's decoder
    with pytest.raises(DerainError, match=r"\[here\] the checkpoint does not fit espnet .*conv.conv.weight"):
        build_network("espnet", {"classes": 20, "image_skip": True}, state, "here")  # train/Model.py's


def test_a_missing_checkpoint_points_at_the_segmentation_option(hf_home, monkeypatch):
    from huggingface_hub import constants

    from derain_cli.errors import DerainError

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DerainError, match="no verified checkpoint for espnet-camvid") as caught:
        Segmenter("espnet-camvid", device="cpu")
    message = str(caught.value)
    assert "choose another --seg-model" in message and "pass --weights PATH" not in message


def test_a_builtin_checkpoint_of_integers_is_refused():
    from derain_cli.checkpoints import load_state_dict
    from derain_cli.errors import DerainError
    from derain_cli.segment.builtin import build_network

    state = load_state_dict(shared_file("weights/espnet_p2q8_cityscapes.pth"))
    state = {k: v.to(torch.int8) if v.is_floating_point() else v for k, v in state.items()}
    with pytest.raises(DerainError, match=r"\[here\] the checkpoint does not fit espnet .*torch.int8"):
        build_network("espnet", {"classes": 20, "image_skip": False}, state, "here")
