"""weights.toml: the project's file parses, its hashes match the authors' files, and bad files are refused."""

from pathlib import Path

import pytest

from conftest import REPO_ROOT, shared_file
from derain_cli.errors import DerainError, UsageError
from derain_cli.weights.registry import HubSource, UrlSource, load_registry, weights_toml_path

ENTRIES = ["sapnet-rain100h", "prenet-rain100h", "prenet-rain100l", "prenet-real"]


def test_the_repository_file_is_found_and_names_every_checkpoint(monkeypatch):
    monkeypatch.delenv("DERAIN_WEIGHTS_TOML", raising=False)
    assert weights_toml_path() == REPO_ROOT / "weights.toml"
    registry = load_registry()
    assert list(registry.models)[:10] == ["sapnet-realrain-v4", "sapnet-realrain-heavy", "sapnet-realrain-v3", "sapnet-realrain-v2", "sapnet-realrain", "lite", *ENTRIES]  # the bundled ones first, the default first of all
    assert registry.get("sapnet").name == "sapnet-rain100h" and registry.get("prenet").name == "prenet-rain100h"
    assert registry.get("prenet-real").architecture == "prenet"
    assert registry.get("sapnet").parameter_count() == 180_483
    assert registry.default_segmentation().hf_repo == "nvidia/segformer-b0-finetuned-cityscapes-1024-1024"
    with pytest.raises(UsageError, match="unknown checkpoint 'nope'; known: sapnet-realrain-v4, realrain-v4, sapnet-realrain-heavy, realrain-heavy, sapnet-realrain-v3, realrain-v3, sapnet-realrain-v2, realrain-v2, sapnet-realrain, realrain, lite, sapnet-rain100h, sapnet, "):
        registry.get("nope")


@pytest.mark.parametrize("name", ENTRIES)
def test_sources_are_hub_then_the_authors_url_with_their_file_hash(name):
    entry = load_registry().get(name)
    hub, url = entry.sources
    assert isinstance(hub, HubSource) and hub.hf_repo == f"derain-cli/{name}" and hub.revision == "main"
    assert isinstance(url, UrlSource) and url.url.startswith("https://github.com/")
    sums = dict(line.split()[::-1] for line in shared_file("weights/SHA256SUMS").read_text().splitlines())
    assert url.sha256 == sums[url.filename]  # the cache/folder name is the shared copy's name
    assert entry.rain100h is not None and f"--model {name}" in entry.rain100h.command


def test_measured_numbers_are_recorded():
    registry = load_registry()
    assert str(registry.get("sapnet").rain100h) == "28.07 / 0.8674"
    assert str(registry.get("prenet").rain100h) == "29.50 / 0.8990"
    assert str(registry.get("prenet-real").rain100h) == "25.33 / 0.8380"
    assert str(registry.get("prenet-rain100l").rain100h) == "17.92 / 0.6117"


def test_hcn_is_registered_without_a_source():
    assert load_registry().get("hcn").sources == ()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "weights.toml"
    path.write_text(text)
    return path


def test_environment_variable_selects_the_file(tmp_path, monkeypatch):
    path = _write(tmp_path, '[models.mine]\narchitecture = "sapnet"\naliases = ["m"]\n')
    monkeypatch.setenv("DERAIN_WEIGHTS_TOML", str(path))
    assert load_registry().get("m").name == "mine"
    monkeypatch.setenv("DERAIN_WEIGHTS_TOML", str(tmp_path / "absent.toml"))
    with pytest.raises(DerainError, match="absent.toml: \\$DERAIN_WEIGHTS_TOML names a file that does not exist"):
        load_registry()


@pytest.mark.parametrize("text, message", [
    ("[models.x]\ndescription = 'no architecture'\n", r"\[models.x\] needs 'architecture'"),
    ("[models.x]\narchitecture = 'sapnet'\nsources = [{ url = 'u', filename = 'f', sha256 = 'ab' }]\n",
     "sha256 must be 64 lowercase hex digits"),
    ("[models.x]\narchitecture = 'sapnet'\nsources = [{ sha256 = '" + "0" * 64 + "' }]\n", "needs 'hf_repo', 'url' or 'bundled'"),
    ("[models.x]\narchitecture = 'sapnet'\n[models.y]\narchitecture = 'sapnet'\naliases = ['x']\n", "'x' is used twice"),
    ("[models.x\n", "not valid TOML"),
])
def test_malformed_files_are_refused_naming_the_file(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(DerainError, match=message) as info:
        load_registry(path)
    assert str(path) in str(info.value)
