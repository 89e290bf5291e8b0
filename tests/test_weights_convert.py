"""`derain weights convert`: deterministic safetensors whose sha256 weights.toml records."""

import json

import pytest
import torch
from safetensors.torch import save
from typer.testing import CliRunner

from conftest import shared_file
from derain_cli.checkpoints import load_state_dict, read_metadata
from derain_cli.cli import app
from derain_cli.errors import DerainError, UsageError
from derain_cli.models import create_model
from derain_cli.checkpoints import canonical_safetensors
from derain_cli.weights.convert import convert_checkpoint
from derain_cli.weights.registry import UrlSource, load_registry

runner = CliRunner()


def test_cli_conversion_of_the_authors_sapnet_file_has_the_registered_hub_hash(tmp_path, sapnet_weights):
    result = runner.invoke(app, ["weights", "convert", str(sapnet_weights), str(tmp_path / "out.safetensors")])
    assert result.exit_code == 0, result.output
    sha256, path = result.stdout.split()
    assert path == str(tmp_path / "out.safetensors")
    assert sha256 == load_registry().get("sapnet").hub_source.sha256


@pytest.mark.parametrize("name", ["sapnet-rain100h", "prenet-rain100h", "prenet-rain100l", "prenet-real"])
def test_every_conversion_is_deterministic_lossless_and_registered(tmp_path, name):
    entry = load_registry().get(name)
    src = shared_file(f"weights/{next(s for s in entry.sources if isinstance(s, UrlSource)).filename}")
    first = convert_checkpoint(src, tmp_path / "a.safetensors", entry.architecture, entry.options)
    assert convert_checkpoint(src, tmp_path / "b.safetensors", entry.architecture, entry.options) == first
    assert first == entry.hub_source.sha256
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    authors, converted = load_state_dict(src), load_state_dict(tmp_path / "a.safetensors")
    assert list(converted) == sorted(authors) and all(torch.equal(authors[k], converted[k]) for k in authors)
    options = json.dumps(entry.options, sort_keys=True)
    assert read_metadata(tmp_path / "a.safetensors") == {"architecture": entry.architecture, "format": "pt", "options": options}


def test_canonical_header_does_not_depend_on_the_writer_order():
    state = create_model("prenet").state_dict()
    raw = {save(state, {"b": "2", "a": "1", "c": "3"}) for _ in range(6)}
    assert len({canonical_safetensors(data) for data in raw}) == 1
    assert len({canonical_safetensors(save(state, meta)) for meta in ({"a": "1", "b": "2"}, {"b": "2", "a": "1"})}) == 1


def test_errors(tmp_path, sapnet_weights):
    with pytest.raises(UsageError, match="must end in .safetensors"):
        convert_checkpoint(sapnet_weights, tmp_path / "out.pth")
    (tmp_path / "out.safetensors").write_bytes(b"keep me")
    with pytest.raises(UsageError, match="already exists"):
        convert_checkpoint(sapnet_weights, tmp_path / "out.safetensors")
    assert (tmp_path / "out.safetensors").read_bytes() == b"keep me"
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "odd.pth")
    with pytest.raises(DerainError, match="odd.pth: fits none of the architectures"):
        convert_checkpoint(tmp_path / "odd.pth", tmp_path / "odd.safetensors")
    result = runner.invoke(app, ["weights", "convert", str(sapnet_weights), str(tmp_path / "p.safetensors"), "-m", "prenet"])
    assert result.exit_code == 1 and "does not fit" in result.output


def test_a_full_disk_names_the_output(tmp_path, sapnet_weights):
    import resource
    import signal
    import subprocess
    import sys

    def small_files() -> None:  # files may not grow past 64 KB: the write fails as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    out = tmp_path / "out.safetensors"
    run = subprocess.run([sys.executable, "-m", "derain_cli", "weights", "convert", str(sapnet_weights), str(out)],
                         capture_output=True, text=True, preexec_fn=small_files, timeout=300)  # fmt: skip
    assert run.returncode == 1 and run.stderr.strip().splitlines() == [f"error: {out}: cannot write (File too large)"], run.stderr
    assert list(tmp_path.iterdir()) == []
