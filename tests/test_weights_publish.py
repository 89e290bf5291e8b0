"""`derain weights publish`, up to the upload: the files and card it would publish, and its refusals (no network)."""

import dataclasses

import pytest
import torch
from huggingface_hub import constants
from typer.testing import CliRunner

from derain_cli.cli import app
from derain_cli.errors import DerainError, UsageError
from derain_cli.models import create_model
from derain_cli.weights.publish import model_card, prepare_upload, publish, require_token
from derain_cli.weights.registry import load_registry


@pytest.fixture
def no_token(tmp_path, monkeypatch):
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))


def test_sapnet_card_states_licence_attribution_origin_and_hash():
    entry = load_registry().get("sapnet")
    card = model_card(entry, "derain-cli/sapnet-rain100h", "f" * 64)
    assert card.startswith("---\nlicense: mit\nlibrary_name: derain-cli\n")
    assert "MIT, as stated by the authors." in card and "Shen Zheng" in card
    assert entry.sources[1].url in card and entry.sources[1].sha256 in card
    assert "sha256 `" + "f" * 64 + "`" in card and "180,483 parameters" in card and "28.07 / 0.8674" in card
    assert "derain image rainy.jpg -o derained.png --model sapnet-rain100h" in card


def test_prenet_card_says_no_licence_is_stated():
    entry = load_registry().get("prenet-real")
    card = model_card(entry, "derain-cli/prenet-real", "0" * 64)
    assert "license: unknown" in card and "The authors state no licence" in card and "25.33 / 0.8380" in card
    unmeasured = model_card(dataclasses.replace(entry, rain100h=None), "derain-cli/prenet-real", "0" * 64)
    assert "Rain100H test: not measured yet" in unmeasured


def test_prepared_upload_is_the_registered_file_and_its_card(tmp_path, sapnet_weights):
    entry = load_registry().get("sapnet")
    sha256 = prepare_upload(entry, "org/name", sapnet_weights, tmp_path)
    assert sha256 == entry.hub_source.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "model.safetensors"]
    assert (tmp_path / "README.md").read_text() == model_card(entry, "org/name", sha256)


def test_a_file_users_would_reject_is_not_published(tmp_path):
    torch.manual_seed(0)
    torch.save(create_model("sapnet").state_dict(), tmp_path / "other.pth")
    with pytest.raises(DerainError, match="publishing it would fail every user's verification"):
        prepare_upload(load_registry().get("sapnet"), "org/name", tmp_path / "other.pth", tmp_path)


def test_token_is_required_before_anything_else(no_token):
    with pytest.raises(DerainError, match="needs a Hugging Face token"):
        require_token()
    assert require_token("hf_explicit") == "hf_explicit"
    result = CliRunner().invoke(app, ["weights", "publish", "sapnet", "--repo", "org/name"])
    assert result.exit_code == 1 and "error: publishing needs a Hugging Face token" in result.output
    assert "Traceback" not in result.output


def test_bad_repository_id_is_a_usage_error(no_token):
    with pytest.raises(UsageError, match="expected ORG/NAME"):
        publish(load_registry().get("sapnet"), "no-slash", token="hf_explicit")
