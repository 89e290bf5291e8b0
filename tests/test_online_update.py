"""`derain online-update` / `finetune`: pseudo-target refresh, the KL rain prior, resume, outputs, bad input."""

import json

import numpy as np
import pytest
import torch
from conftest import shared_file
from PIL import Image
from safetensors.torch import load_file
from typer.testing import CliRunner

from derain_cli.checkpoints import architecture_metadata, read_metadata
from derain_cli.contact_sheet import contact_sheet
from derain_cli.cli import app
from derain_cli.derainer import Derainer
from derain_cli.errors import UsageError
from derain_cli.image_batch import Job
from derain_cli.models import create_model
from derain_cli.imageio import to_uint8
from derain_cli.online import (
    OnlineUpdater,
    RealImage,
    SyntheticRain,
    UpdateOptions,
    learning_rate,
    load_real_images,
    output_jobs,
    rain_kl,
    sample_patches,
    soft_histogram,
)
from derain_cli.online.prior import BINS

runner = CliRunner()


def _real_photos(folder, size=(96, 64), names=(1, 2, 3)):
    """Downscaled copies of real rainy photos from the shared set."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        photo = Image.open(shared_file(f"data/real/{name}.png")).convert("RGB")
        photo.resize(size, Image.LANCZOS).save(folder / f"{name}.png")
    return folder


def _synthetic_set(root, pairs=2, size=(48, 40)):
    """input/N.png = target/N.png + bright diagonal streaks, targets from the real photos (rain-free enough)."""
    (root / "input").mkdir(parents=True)
    (root / "target").mkdir()
    for k in range(1, pairs + 1):
        clean = np.asarray(Image.open(shared_file(f"data/clean/urban100/img_00{k}_SRF_2_HR.png")).convert("RGB").resize(size))
        rainy = clean.astype(np.int16)
        for offset in range(-size[1], size[0], 7):
            for y in range(size[1]):
                x = offset + y // 2
                if 0 <= x < size[0]:
                    rainy[y, x] += 90
        Image.fromarray(clean).save(root / "target" / f"{k}.png")
        Image.fromarray(np.clip(rainy, 0, 255).astype(np.uint8)).save(root / "input" / f"{k}.png")
    return root


def _net(seed=0):
    torch.manual_seed(seed)
    return create_model("sapnet", stages=1)


def _updater(tmp_path, out="out", synthetic=None, seed=0, precision="fp32", **options):
    images, failures = load_real_images(sorted(_real_photos(tmp_path / "real", (48, 40), (1, 2)).iterdir()))
    assert not failures
    settings = dict(rounds=2, steps_per_round=1, patch=32, batch_size=2, lr=1e-3) | options
    rain = SyntheticRain(synthetic, settings["patch"]) if synthetic else None
    return OnlineUpdater(_net(seed), images, tmp_path / out, UpdateOptions(**settings), architecture_metadata("sapnet"),
                         rain, device="cpu", precision=precision)  # fmt: skip


def test_outputs_reuse_the_last_pseudo_targets_with_the_pixels_a_fresh_pass_gives(tmp_path):
    updater = _updater(tmp_path)
    updater.run()
    calls = []
    derain_float = updater.derainer.derain_float
    updater.derainer.derain_float = lambda rgb: calls.append(rgb.shape) or derain_float(rgb)
    flipped = tmp_path / "flipped.png"  # not an input the refresh saw: derained afresh
    Image.fromarray(updater.images[0].rainy[:, ::-1].copy()).save(flipped)
    jobs = output_jobs(updater.images, tmp_path / "out") + [Job(flipped, tmp_path / "out" / "derained" / "flipped.png")]
    assert updater.write_outputs(jobs) == []
    assert calls == [updater.images[0].rainy.shape]  # only the unseen image went through the model
    fresh = Derainer.from_network(updater.network, "cpu")
    fresh.rebuild_fast_path()
    for image in updater.images:
        expected = to_uint8(fresh.derain_float(image.rainy / np.float32(255)))
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "derained" / image.path.name)), expected)


def test_preview_columns_are_labelled(tmp_path):
    updater = _updater(tmp_path, rounds=1)
    updater.previews = True
    updater.run()
    sheet = np.asarray(Image.open(tmp_path / "out" / "previews" / "round_001.png"))
    plain = contact_sheet([[image.rainy, first, image.target] for image, first in zip(updater.images, updater.initial)])
    band = sheet.shape[0] - plain.shape[0]
    assert band > 0 and np.array_equal(sheet[band:], plain)  # a caption band above the same grid
    width = (sheet.shape[1] - 4) // 3
    for column in range(3):  # dark caption pixels over each column
        assert (sheet[:band, 4 + column * width : (column + 1) * width] < 128).any()


def test_soft_histogram_splits_each_value_between_the_two_nearest_bins():
    hist = soft_histogram(torch.tensor([[-1.0, 0.01, 1.0, 3.0]]))
    expected = torch.zeros(1, BINS)
    expected[0, 0] = 0.25
    expected[0, 50] = expected[0, 51] = 0.125  # 0.01 lies halfway between the centres 0.00 and 0.02
    expected[0, -1] = 0.5  # 1.0 and the clamped 3.0
    torch.testing.assert_close(hist, expected)


def test_rain_kl_is_zero_for_equal_layers_positive_otherwise_and_differentiable():
    torch.manual_seed(0)
    real = (torch.rand(2, 3, 16, 16) * 0.2).requires_grad_()
    assert rain_kl(real, real.detach()).item() == 0.0
    streaks = torch.zeros(2, 3, 16, 16)
    streaks[..., ::4, :] = 0.6
    divergence = rain_kl(real, streaks)
    assert divergence.item() > 0
    divergence.backward()
    assert real.grad.abs().sum() > 0


def test_learning_rate_steps_down_at_30_50_80_percent():
    options = UpdateOptions(rounds=20, lr=1.0)
    rates = [learning_rate(options, r) for r in range(1, 21)]
    assert rates == pytest.approx([1.0] * 6 + [0.2] * 4 + [0.04] * 6 + [0.008] * 4)
    assert learning_rate(UpdateOptions(rounds=1, lr=1.0), 1) == 1.0


def test_patches_share_their_window_pad_small_images_and_depend_on_the_step():
    rainy = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    images = [RealImage(None, rainy, 255 - rainy)]
    x, y = sample_patches(images, 3, 32, seed=0, step=5)
    assert x.shape == y.shape == (3, 3, 32, 32)
    torch.testing.assert_close(y, 1 - x)
    again, _ = sample_patches(images, 3, 32, seed=0, step=5)
    other, _ = sample_patches(images, 3, 32, seed=0, step=6)
    assert torch.equal(x, again) and not torch.equal(x, other)
    assert set(np.unique(np.rint(x.numpy() * 255))) <= set(np.unique(rainy))  # padding only repeats pixels


def test_pseudo_targets_are_refreshed_after_every_round(tmp_path):
    updater = _updater(tmp_path)
    seen = []
    history = updater.run(on_round=lambda record: seen.append([image.target.copy() for image in updater.images]))
    assert [r["round"] for r in history] == [1, 2]
    derainer = Derainer.from_network(updater.network, "cpu")
    plain = [to_uint8(derainer.derain_float(image.rainy / np.float32(255))) for image in updater.images]
    derainer.rebuild_fast_path()  # the refresh runs the fast path derived from the current weights
    assert updater.derainer._fast is not None and derainer._fast is not None
    for image, target, reference in zip(updater.images, seen[-1], plain):
        np.testing.assert_array_equal(target, to_uint8(derainer.derain_float(image.rainy / np.float32(255))))
        assert np.abs(target.astype(int) - reference).max() <= 1
    assert not np.array_equal(seen[0][0], seen[1][0])
    assert all(r["target_change"] > 0 for r in history)
    assert all(r["kl"] == 0.0 for r in history)  # no synthetic set: the KL term is exactly zero
    lines = (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["round"] for line in lines] == [1, 2]


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="no oneDNN bf16 on this CPU")
def test_bf16_update_trains_channels_last_and_refreshes_through_the_bf16_fast_path(tmp_path):
    updater = _updater(tmp_path, precision="bf16", rounds=1, steps_per_round=2)
    history = updater.run()
    weight = updater.network.conv0[0].weight
    assert weight.dtype == torch.float32 and weight.is_contiguous(memory_format=torch.channels_last)
    assert updater.derainer._fast.dtype == torch.bfloat16 and np.isfinite(history[0]["l1"])
    fp32 = Derainer.from_network(updater.network, "cpu")
    for image in updater.images:  # the bf16 pseudo targets stay next to the fp32 pass of the same weights
        reference = to_uint8(fp32.derain_float(image.rainy / np.float32(255)))
        assert np.abs(image.target.astype(int) - reference).mean() < 0.5
    with pytest.raises(UsageError, match="fp16"):
        _updater(tmp_path, out="other", precision="fp16")


def test_kl_prior_is_positive_with_a_synthetic_set(tmp_path):
    updater = _updater(tmp_path, synthetic=_synthetic_set(tmp_path / "syn"), kl_weight=1e-2)
    history = updater.run()
    assert all(r["kl"] > 0 for r in history)


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    whole = _updater(tmp_path, "whole")
    whole.run()

    class Stop(Exception):
        pass

    def stop(record):
        raise Stop

    interrupted = _updater(tmp_path, "cut")
    with pytest.raises(Stop):
        interrupted.run(on_round=stop)
    resumed = _updater(tmp_path, "cut", seed=1)  # different start weights: all must come from state.pt
    resumed.resume()
    assert resumed.completed == 1
    resumed.run()
    for name, tensor in whole.network.state_dict().items():
        torch.testing.assert_close(resumed.network.state_dict()[name], tensor, rtol=0, atol=1e-6, msg=name)
    assert [r["round"] for r in resumed.history] == [1, 2]
    assert len((tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()) == 2
    with pytest.raises(UsageError, match="patch"):
        _updater(tmp_path, "cut", patch=16).resume()


def _cli(*args):
    return runner.invoke(app, [*map(str, args)])


@pytest.mark.slow
def test_acceptance_three_real_photos(tmp_path, tiny_weights):
    photos = _real_photos(tmp_path / "real")
    out = tmp_path / "adapted"
    result = _cli("online-update", photos, "-o", out, "--weights", tiny_weights, "--rounds", 2,
                  "--steps-per-round", 2, "--patch", 64, "--device", "cpu", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    start, adapted = load_file(tiny_weights), load_file(out / "model.safetensors")
    assert sorted(adapted) == sorted(start)
    assert any(not torch.equal(adapted[name], start[name]) for name in start)
    assert read_metadata(out / "model.safetensors")["architecture"] == "sapnet"
    for photo in photos.iterdir():
        assert Image.open(out / "derained" / photo.name).size == Image.open(photo).size
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    reuse = _cli("image", photos / "1.png", "-o", tmp_path / "again.png", "--weights", out / "model.safetensors", "-q")
    assert reuse.exit_code == 0, reuse.output
    assert Image.open(tmp_path / "again.png").size == (96, 64)


def test_finetune_alias_skips_unreadable_images_and_pads_small_ones(tmp_path, tiny_weights):
    photos = _real_photos(tmp_path / "real", (24, 20), (1,))
    (photos / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "adapted"
    result = _cli("finetune", photos, "-o", out, "--weights", tiny_weights, "--rounds", 1, "--steps-per-round", 1,
                  "--patch", 32, "--batch-size", 1, "--device", "cpu", "-q")  # fmt: skip
    assert result.exit_code == 1
    assert "broken.png" in result.output and "1 of 2 input(s) failed" in result.output
    assert "smaller than the 32 px patch" in result.output
    assert Image.open(out / "derained" / "1.png").size == (24, 20)
    assert not (out / "derained" / "broken.png").exists()


def test_bad_folders_and_resume_misuse(tmp_path, tiny_weights):
    (tmp_path / "empty").mkdir()
    result = _cli("online-update", tmp_path / "empty", "-o", tmp_path / "out", "--weights", tiny_weights)
    assert result.exit_code == 1 and "no images" in result.output
    result = _cli("online-update", tmp_path / "empty", "-o", tmp_path / "out", "--resume")
    assert result.exit_code == 1 and "no saved state" in result.output
    (tmp_path / "out" / "state.pt").parent.mkdir(exist_ok=True)
    (tmp_path / "out" / "state.pt").write_bytes(b"")
    result = _cli("online-update", tmp_path / "empty", "-o", tmp_path / "out", "--weights", tiny_weights)
    assert result.exit_code == 1 and "--resume" in result.output
    result = _cli("online-update", tmp_path / "empty", "-o", tmp_path / "out", "--resume", "--overwrite")
    assert result.exit_code == 2


def test_synthetic_pairs_put_known_rain_on_the_pseudo_targets():
    from derain_cli.online.images import synthetic_pairs

    clean = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    images = [RealImage(None, clean, clean)]
    rainy, target = synthetic_pairs(images, 2, 32, seed=0, step=3, preset="heavy")
    again, _ = synthetic_pairs(images, 2, 32, seed=0, step=3, preset="heavy")
    assert rainy.shape == target.shape == (2, 3, 32, 32) and torch.equal(rainy, again)
    assert (rainy - target).abs().mean() > 0.01  # rain was rendered ...
    values = set(np.unique(np.rint(target.numpy() * 255)))
    assert values <= set(np.unique(clean))  # ... and the targets are crops of the pseudo target


def test_the_synthetic_mix_variant_trains_on_both_losses(tmp_path):
    updater = _updater(tmp_path, synth_weight=0.5, synth_preset="light")
    history = updater.run()
    assert all(r["synth_l1"] > 0 and r["l1"] > 0 for r in history)
    with pytest.raises(UsageError, match="preset"):
        UpdateOptions(synth_preset="snow")


@pytest.mark.parametrize("change", ["other size", "same size"])
def test_resume_checks_the_images_by_content_not_by_name(tmp_path, change):
    class Stop(Exception):
        pass

    def stop(record):
        raise Stop

    with pytest.raises(Stop):
        _updater(tmp_path, "cut").run(on_round=stop)
    photo = tmp_path / "real" / "2.png"
    replaced = Image.open(photo).transpose(Image.FLIP_LEFT_RIGHT)  # another picture under the same name
    (replaced if change == "same size" else replaced.resize((40, 48))).save(photo)
    images, _ = load_real_images(sorted((tmp_path / "real").iterdir()))
    resumed = OnlineUpdater(_net(0), images, tmp_path / "cut", UpdateOptions(rounds=2, steps_per_round=1, patch=32, batch_size=2, lr=1e-3),
                            architecture_metadata("sapnet"), None, device="cpu", precision="fp32")  # fmt: skip
    with pytest.raises(UsageError, match="2.png is not the image the run started with"):
        resumed.resume()
