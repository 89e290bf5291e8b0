"""derain_cli.segment: palettes, overlays, mIoU, mask files, and a real (tiny, random) SegFormer."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tiny_segformer import save_tiny_segformer

from derain_cli.errors import DerainError
from derain_cli.imageio import LoadedImage
from derain_cli.pairs import Pair
from derain_cli.segment import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_PALETTE,
    SegmentationPaths,
    Segmenter,
    class_shares,
    confusion_matrix,
    is_cityscapes,
    mean_iou,
    overlay,
    palette_for,
    resolve_model,
    write_mask,
    write_segmentation,
)
from derain_cli.segment.downstream import DownstreamMiou, label_path, labels_folder, read_label_mask
from derain_cli.segment.palette import generated_palette


@pytest.fixture(scope="module")
def segmenter(tiny_segformer):
    return Segmenter(str(tiny_segformer), device="cpu")


def _rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_cityscapes_labels_are_recognised_by_name_and_order():
    assert is_cityscapes(CITYSCAPES_CLASSES)
    assert is_cityscapes([n.replace(" ", "_").title() for n in CITYSCAPES_CLASSES])
    assert not is_cityscapes(CITYSCAPES_CLASSES[::-1])
    assert not is_cityscapes(CITYSCAPES_CLASSES[:-1])
    np.testing.assert_array_equal(palette_for(CITYSCAPES_CLASSES)[[0, 10, 13]], [(128, 64, 128), (70, 130, 180), (0, 0, 142)])


def test_generated_palette_is_deterministic_and_distinct():
    palette = palette_for([f"class {i}" for i in range(150)])
    assert palette.shape == (150, 3) and palette.dtype == np.uint8
    assert len({tuple(c) for c in palette}) == 150
    np.testing.assert_array_equal(palette[:4], [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0)])
    np.testing.assert_array_equal(palette, generated_palette(150))
    with pytest.raises(ValueError):
        generated_palette(257)


def test_overlay_blends_half_and_half():
    rgb = np.full((2, 3, 3), 100, np.uint8)
    labels = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    blended = overlay(rgb, labels, CITYSCAPES_PALETTE)
    assert blended[0, 0].tolist() == [114, 82, 114]  # (100 + (128, 64, 128)) / 2
    assert blended[1, 2].tolist() == blended[0, 0].tolist() and blended[0, 1].tolist() == [172, 68, 166]


def test_confusion_matrix_and_miou_by_hand():
    reference = np.array([[0, 0, 1, 1], [2, 2, 255, 255]])
    predicted = np.array([[0, 1, 1, 1], [2, 0, 0, 3]])
    confusion = confusion_matrix(predicted, reference, num_classes=4)
    assert confusion.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]  # 255 is ignored
    # IoU: class 0 = 1/3, class 1 = 2/3, class 2 = 1/2; class 3 is in neither map (ignored pixels left out).
    assert mean_iou(predicted, reference, 4) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert mean_iou(reference, reference, 4) == 1.0
    assert mean_iou(np.zeros((2, 2)), np.ones((2, 2)), 2) == 0.0
    with pytest.raises(DerainError, match="no labelled pixels"):
        mean_iou(np.zeros((2, 2)), np.full((2, 2), 255), 2)


def test_class_shares_cover_every_class_and_sum_to_one():
    shares = class_shares(np.array([[0, 0, 2, 2], [2, 2, 2, 2]]), ["a", "b", "c"])
    assert shares == {"a": 0.25, "b": 0.0, "c": 0.75}


def test_mask_png_is_palette_mode_with_class_ids(tmp_path):
    labels = np.arange(19, dtype=np.uint8).reshape(1, 19).repeat(3, 0)
    write_mask(tmp_path / "m.png", labels, CITYSCAPES_PALETTE)
    with Image.open(tmp_path / "m.png") as mask:
        assert mask.mode == "P"
        np.testing.assert_array_equal(np.asarray(mask), labels)
        assert mask.getpalette()[3 * 13 : 3 * 14] == [0, 0, 142]


def test_paths_beside_the_output():
    target = Path("out/a.b.jpg")
    paths = SegmentationPaths.beside(target, with_json=True)
    assert [p.as_posix() for p in paths.all()] == ["out/a.b.seg.png", "out/a.b.mask.png", "out/a.b.seg.json"]
    assert [p.name for p in SegmentationPaths.beside(target).all()] == ["a.b.seg.png", "a.b.mask.png"]


def test_segmenter_matches_the_processor_post_processing(segmenter):
    assert segmenter.labels == list(CITYSCAPES_CLASSES) and segmenter.num_classes == 19
    np.testing.assert_array_equal(segmenter.palette, CITYSCAPES_PALETTE)
    rgb = _rgb(37, 53)
    labels = segmenter.predict(rgb)
    assert labels.shape == (37, 53) and labels.dtype == np.uint8 and labels.max() < 19
    with torch.no_grad():
        outputs = segmenter.network(**segmenter.processor(images=rgb, return_tensors="pt"))
    expected = segmenter.processor.post_process_semantic_segmentation(outputs, target_sizes=[(37, 53)])[0]
    np.testing.assert_array_equal(labels, expected.numpy())


def test_any_size_and_float_input(segmenter):
    a, b = _rgb(20, 30, 1), _rgb(41, 17, 2)
    assert segmenter.predict(b).shape == (41, 17)
    np.testing.assert_array_equal(segmenter.predict(a.astype(np.float32) / 255.0), segmenter.predict(a))


def test_other_labels_get_a_generated_palette(tmp_path):
    folder = save_tiny_segformer(tmp_path / "five", labels=["sky", "tree", "car", "road", "person"], seed=1)
    segmenter = Segmenter(str(folder), device="cpu")
    np.testing.assert_array_equal(segmenter.palette, generated_palette(5))
    assert segmenter.predict(_rgb(9, 11)).max() < 5


def test_write_segmentation_files(segmenter, tmp_path):
    image = LoadedImage(_rgb(24, 40).astype(np.float32) / 255.0, None, 8, False)
    paths = SegmentationPaths.beside(tmp_path / "o.png", with_json=True)
    labels = write_segmentation(segmenter, image, paths)
    with Image.open(paths.overlay) as seg, Image.open(paths.mask) as mask:
        assert seg.size == mask.size == (40, 24) and seg.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(mask), labels)
        np.testing.assert_array_equal(np.asarray(seg), overlay(_rgb(24, 40), labels, CITYSCAPES_PALETTE))
    report = json.loads(paths.shares.read_text())
    assert report["width"] == 40 and report["height"] == 24 and list(report["classes"]) == list(CITYSCAPES_CLASSES)
    assert sum(report["classes"].values()) == pytest.approx(1.0, abs=1e-4)


def test_unloadable_model_is_a_one_line_error(tmp_path):
    pytest.importorskip("transformers")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DerainError, match=r"segmentation model .*empty: cannot load it") as caught:
        Segmenter(str(tmp_path / "empty"), device="cpu")
    assert "\n" not in str(caught.value)


def test_missing_transformers_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(DerainError, match=r'pip install "derain-cli\[segment\]"'):
        Segmenter("anything", device="cpu")


def test_label_masks_are_found_by_pair_name_and_read_as_class_ids(tmp_path):
    assert labels_folder(tmp_path) is None
    (tmp_path / "labels").mkdir()
    assert labels_folder(tmp_path) == tmp_path / "labels"
    ids = np.array([[0, 1, 255], [18, 2, 2]], np.uint8)
    write_mask(tmp_path / "labels" / "7.png", ids, CITYSCAPES_PALETTE)
    Image.fromarray(ids).save(tmp_path / "labels" / "8.png")
    Image.fromarray(np.stack([ids] * 3, axis=2)).save(tmp_path / "labels" / "9.png")
    np.testing.assert_array_equal(read_label_mask(label_path(tmp_path / "labels", "7")), ids)
    np.testing.assert_array_equal(read_label_mask(label_path(tmp_path / "labels", "8")), ids)
    with pytest.raises(DerainError, match="9.png: a label mask holds class ids in one channel"):
        read_label_mask(label_path(tmp_path / "labels", "9"))
    with pytest.raises(DerainError, match="10.png: label mask not found"):
        label_path(tmp_path / "labels", "10")


def _pair(name):
    return Pair(name, Path(f"input/{name}.png"), Path(f"target/{name}.png"))


def test_downstream_miou_label_free(segmenter):
    miou = DownstreamMiou(segmenter)
    clean, rainy = _rgb(30, 40, 3), _rgb(30, 40, 4)
    assert miou(_pair("1"), clean, clean) == {"miou": 1.0}
    expected = mean_iou(segmenter.predict(rainy), segmenter.predict(clean), 19)
    assert miou(_pair("1"), rainy, clean)["miou"] == pytest.approx(expected) and 0.0 <= expected < 1.0
    other = _rgb(30, 40, 5)  # a new pair gets its own reference
    assert miou(_pair("2"), other, other) == {"miou": 1.0}


def test_downstream_miou_against_label_masks(segmenter, tmp_path):
    image = _rgb(12, 16, 7)
    predicted = segmenter.predict(image)
    truth = predicted.copy()
    truth[:6] = 255  # the top half is unlabelled: ignored
    truth[6:, :4] = (predicted[6:, :4] + 1) % 19
    Image.fromarray(truth).save(tmp_path / "a.png")
    Image.fromarray(np.full((12, 16), 255, np.uint8)).save(tmp_path / "empty.png")
    Image.fromarray(truth[:, :8]).save(tmp_path / "small.png")
    miou = DownstreamMiou(segmenter, labels=tmp_path)
    clean = _rgb(12, 16, 8)  # the label mask is the reference of "miou"; the clean image's segmentation of "miou_clean"
    scores = miou(_pair("a"), image, clean)
    assert scores["miou"] == pytest.approx(mean_iou(predicted, truth, 19))
    assert scores["miou_clean"] == pytest.approx(mean_iou(predicted, segmenter.predict(clean), 19))
    assert "miou" not in miou(_pair("empty"), image, clean)
    with pytest.raises(DerainError, match="small.png: label mask is 8x12, its image 16x12"):
        miou(_pair("small"), image, clean)


def test_default_and_named_models_resolve_through_weights_toml(tmp_path):
    default = ("nvidia/segformer-b0-finetuned-cityscapes-1024-1024", "main")
    assert resolve_model(None) == default
    assert resolve_model("segformer-b0-cityscapes") == default
    assert resolve_model("someone/other-segformer") == ("someone/other-segformer", None)
    assert resolve_model(str(tmp_path)) == (str(tmp_path), None)


def _broken_copy(tiny_segformer, folder, edit):
    """The tiny SegFormer folder with its weights file rewritten by ``edit`` (a dict of tensors -> a dict of tensors)."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(tiny_segformer, folder)
    weights = folder / "model.safetensors"
    save_file(edit(load_file(weights)), weights, metadata={"format": "pt"})
    return folder


@pytest.mark.parametrize("edit,problem", [
    (lambda state: {"unrelated.weight": torch.zeros(3)}, "lacks weights"),
    (lambda state: {k: v for k, v in state.items() if not k.startswith("decode_head.classifier")}, "lacks weights"),
    (lambda state: {**state, "extra.weight": torch.zeros(3)}, "holds unexpected weights"),
])
def test_a_broken_model_folder_is_an_error_not_a_random_head(tiny_segformer, tmp_path, edit, problem):
    folder = _broken_copy(tiny_segformer, tmp_path / "broken", edit)
    with pytest.raises(DerainError, match=f"segmentation model .*broken: the checkpoint {problem}") as caught:
        Segmenter(str(folder), device="cpu")
    assert "\n" not in str(caught.value)


def test_pickled_code_in_a_model_folder_is_one_line_and_never_runs(tiny_segformer, tmp_path):
    import os
    import shutil

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    folder = tmp_path / "evil"
    shutil.copytree(tiny_segformer, folder)
    (folder / "model.safetensors").unlink()
    torch.save({"decode_head.classifier.weight": Payload()}, folder / "pytorch_model.bin")
    with pytest.raises(DerainError, match=r"evil: cannot load it \(it holds pickled code \(posix.system\), which is never run\)") as caught:
        Segmenter(str(folder), device="cpu")
    assert "weights_only" not in str(caught.value) and not (tmp_path / "ran").exists()
