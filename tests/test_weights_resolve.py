"""--model / --weights resolution: registry names and aliases, default checkpoints, and Derainer without weights."""

import numpy as np
import pytest
from huggingface_hub import constants

from conftest import SHARED, shared_file
from derain_cli import Derainer, create_model
from derain_cli.checkpoints import architecture_metadata, save_safetensors
from derain_cli.errors import DerainError, UsageError
from derain_cli.weights.resolve import architecture_of, resolve_model


@pytest.fixture
def offline_with_shared_folder(hf_home, monkeypatch):
    """Offline, empty caches, and the shared reference checkpoints as $DERAIN_WEIGHTS_DIR."""
    shared_file("weights/SHA256SUMS")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("DERAIN_WEIGHTS_DIR", str(SHARED / "weights"))


def test_names_and_aliases_resolve_to_architecture_and_checkpoint(offline_with_shared_folder):
    real = resolve_model("prenet-real")
    variant = {"stages": 4, "lstm_last": True, "residual": False}  # the authors' real-photo graph
    assert (real.architecture, real.options, real.checkpoint) == ("prenet", variant, SHARED / "weights" / "prenet_real_authors.pth")
    assert resolve_model("sapnet").checkpoint == SHARED / "weights" / "sapnet_rain100h_authors.pth"
    assert architecture_of("prenet-rain100l") == ("prenet", {}) and architecture_of("sapnet") == ("sapnet", {})


def test_explicit_weights_never_touch_the_registry_sources(hf_home, monkeypatch, tmp_path):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert resolve_model("prenet", tmp_path / "mine.pth").checkpoint == tmp_path / "mine.pth"


def test_unknown_model_and_sourceless_entry(hf_home):
    with pytest.raises(UsageError, match="unknown model 'nope'; architectures: .*sapnet.*; checkpoints: sapnet-realrain-v4, realrain-v4, sapnet-realrain-heavy, realrain-heavy, sapnet-realrain-v3, realrain-v3, sapnet-realrain-v2, realrain-v2, sapnet-realrain, realrain, lite, sapnet-rain100h"):
        resolve_model("nope")
    with pytest.raises(DerainError, match="^no public checkpoint exists for hcn; train one with `derain train --model hcn`"):
        resolve_model("hcn")


def test_derainer_without_weights_uses_the_registered_checkpoint(offline_with_shared_folder, sapnet_weights):
    rainy = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    default = Derainer("sapnet", device="cpu")(rainy)
    np.testing.assert_array_equal(default, Derainer("sapnet", weights=sapnet_weights, device="cpu")(rainy))


def test_offline_empty_cache_fails_with_the_how_to(hf_home, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DerainError, match="no verified checkpoint for prenet-rain100h .*pass --weights PATH"):
        Derainer("prenet", device="cpu")


def test_a_loss_network_is_not_a_deraining_model(hf_home):
    with pytest.raises(UsageError, match="not a deraining model"):
        resolve_model("vgg16-imagenet")


def test_a_checkpoint_of_ours_brings_its_architecture_options(tmp_path):
    options = {"stages": 4, "lstm_last": True, "residual": False}
    path = tmp_path / "adapted.safetensors"
    save_safetensors(create_model("prenet", **options).state_dict(), path, architecture_metadata("prenet", options))
    assert resolve_model("prenet", path).options == options
    assert resolve_model("sapnet", path).options == {}  # recorded for another architecture: ignored


def test_an_unknown_model_offers_close_names_and_no_loss_networks(hf_home):
    with pytest.raises(UsageError) as caught:
        resolve_model("prenet-rain100")
    message = str(caught.value)
    guesses = message.split("did you mean ")[1].split("?")[0].split(" or ")
    assert {"prenet-rain100h", "prenet-rain100l"} <= set(guesses)
    assert "vgg16-imagenet" not in message and "lpips-vgg" not in message
    with pytest.raises(UsageError, match="'qwerty'; architectures"):  # nothing close: no guess
        resolve_model("qwerty")


def test_an_architecture_with_several_checkpoints_names_them(hf_home):
    with pytest.raises(UsageError) as caught:
        resolve_model("brn")
    assert "--model (brn-rain100h, brn-rain100l, brn-rain1400), or pass --weights PATH" in str(caught.value)
