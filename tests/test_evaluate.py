"""The evaluation engine and `derain eval`: rows, failures, TTA, saved outputs, JSON, Rain100H acceptance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from derain_cli.checkpoints import architecture_metadata, save_safetensors
from derain_cli.cli import app
from derain_cli.errors import DerainError, UsageError
from derain_cli.evaluate import RAINY, TTA_MODES, evaluate, load_methods, model_labels, self_ensemble
from derain_cli.models import create_model
from derain_cli.pairs import find_pairs, rain_free_set
from conftest import shared_file
from reference_metrics import reference_psnr_ssim

runner = CliRunner()


def _write(path: Path, pixels: np.ndarray) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def _paired_set(root: Path, count: int = 2, size: tuple[int, int] = (24, 20)) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """input/N.png + target/N.png, the rainy image being the clean one plus noise."""
    rng = np.random.default_rng(0)
    images = {}
    for n in range(1, count + 1):
        clean = rng.integers(40, 200, (size[1], size[0], 3), dtype=np.uint8)
        rainy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
        images[str(n)] = (_write(root / "input" / f"{n}.png", rainy), _write(root / "target" / f"{n}.png", clean))
    return images


def _brighten(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb.astype(np.int16) + 10, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("mode", list(TTA_MODES))
def test_self_ensemble_maps_every_view_back(mode: str) -> None:
    x = torch.rand(1, 3, 5, 7)
    torch.testing.assert_close(self_ensemble(lambda t: t, x, mode), x)
    torch.testing.assert_close(self_ensemble(lambda t: t * 0.5 + 0.1, x, mode), x * 0.5 + 0.1)
    seen: list[tuple[int, int]] = []
    self_ensemble(lambda t: seen.append(tuple(t.shape[2:])) or t, x, mode)
    assert len(seen) == len(TTA_MODES[mode]) and ((7, 5) in seen) == (mode == "dihedral")


def test_self_ensemble_averages_views() -> None:
    x = torch.zeros(1, 1, 2, 2)
    x[0, 0, 0, 0] = 1.0

    def keep_top_left(t: torch.Tensor) -> torch.Tensor:  # not equivariant: only the top-left pixel survives
        out = torch.zeros_like(t)
        out[..., 0, 0] = t[..., 0, 0]
        return out

    # Only the identity view has the bright pixel at the top left, so 1 of 4 views keeps it.
    assert self_ensemble(keep_top_left, x, "flips")[0, 0, 0, 0].item() == pytest.approx(0.25)
    with pytest.raises(UsageError, match="unknown TTA mode"):
        self_ensemble(keep_top_left, x, "rotate")


def test_model_labels() -> None:
    assert model_labels([], []) == [("sapnet-realrain-v4", "sapnet-realrain-v4", None)]  # the bundled default
    assert model_labels(["prenet"], [Path("a.pth")]) == [("prenet", "prenet", Path("a.pth"))]
    assert [label for label, _, _ in model_labels(["prenet", "prenet"], [Path("a.pth"), Path("b.pth")])] == [
        "prenet:a.pth", "prenet:b.pth"
    ]
    with pytest.raises(UsageError, match="once per --model"):
        model_labels(["prenet", "sapnet"], [Path("a.pth")])
    with pytest.raises(UsageError, match="given twice"):
        model_labels(["prenet", "prenet"], [])


def test_evaluate_rows_failures_and_extras(tmp_path: Path) -> None:
    images = _paired_set(tmp_path, count=3)
    _write(tmp_path / "target" / "2.png", np.zeros((21, 24, 3), dtype=np.uint8))  # size mismatch
    _write(tmp_path / "target" / "9.png", np.zeros((20, 24, 3), dtype=np.uint8))  # no rainy partner
    calls: list[tuple[str, int]] = []

    def brightness(pair, image, clean):
        calls.append((pair.name, int(image.sum())))
        return {"brightness": float(image.mean())}

    paired = find_pairs(tmp_path)
    done: list[tuple[str, str | None]] = []
    report = evaluate(
        paired, {"copy": np.copy, "brighter": _brighten}, extras=[brightness],
        on_pair=lambda pair, failure: done.append((pair.name, failure)),
    )
    assert report.n == 2 and [name for name, _ in done] == ["1", "2", "3"]
    assert report.failures == [done[1][1]] and "differs from" in report.failures[0] and "2.png" in report.failures[0]
    assert report.problems == [f"{tmp_path / 'target' / '9.png'}: no matching rainy image"]
    assert len(calls) == 2 * 3  # rainy input + two methods, for each good pair

    expected = [reference_psnr_ssim(images[n][0], images[n][1]) for n in ("1", "3")]
    assert report.rainy.mean().psnr == pytest.approx(np.mean([p for p, _ in expected]), abs=1e-9)
    assert report.rainy.mean().ssim == pytest.approx(np.mean([s for _, s in expected]), abs=1e-9)
    assert report.models["copy"].scores == report.rainy.scores
    assert report.models["brighter"].extra_means()["brightness"] == pytest.approx(
        np.mean([_brighten(images[n][0]).mean() for n in ("1", "3")])
    )
    data = report.to_json()
    assert set(data) == {"dataset", "measure", "n", "rainy", "models"} and data["n"] == 2 and data["measure"] == "paired"
    assert set(data["rainy"]) == {"psnr", "ssim", "rgb_psnr", "brightness"}
    assert set(data["models"]["copy"]) == {"psnr", "ssim", "rgb_psnr", "brightness", "seconds_per_image"}


def test_identical_images_give_null_psnr_in_json(tmp_path: Path) -> None:
    clean = _write(tmp_path / "input" / "1.png", np.full((16, 16, 3), 90, dtype=np.uint8))
    _write(tmp_path / "target" / "1.png", clean)
    data = evaluate(find_pairs(tmp_path), {"copy": np.copy}).to_json()
    assert data["rainy"]["psnr"] is None and data["rainy"]["ssim"] == 1.0
    json.dumps(data, allow_nan=False)


def test_save_outputs_and_never_onto_inputs(tmp_path: Path) -> None:
    images = _paired_set(tmp_path / "set", count=1)
    report = evaluate(find_pairs(tmp_path / "set"), {"brighter": _brighten}, save_outputs=tmp_path / "out")
    saved = np.asarray(Image.open(tmp_path / "out" / "brighter" / "1.png"))
    np.testing.assert_array_equal(saved, _brighten(images["1"][0]))
    assert not report.failures
    report = evaluate(find_pairs(tmp_path / "set"), {"input": _brighten}, save_outputs=tmp_path / "set")
    assert report.n == 0 and "is an input file" in report.failures[0]
    assert report.to_json()["rainy"]["psnr"] is None and report.to_json()["models"]["input"]["ssim"] is None
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "set" / "input" / "1.png")), images["1"][0])


def test_rain_free_photos_are_their_own_references(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    photos = [_write(tmp_path / f"{n}.png", rng.integers(20, 230, (18, 22, 3), dtype=np.uint8)) for n in (1, 2, 3, 10)]
    rain_free = rain_free_set(tmp_path)
    assert [p.name for p in rain_free.pairs] == ["1", "2", "3", "10"] and all(p.rainy == p.clean for p in rain_free.pairs)
    report = evaluate(rain_free, {"copy": np.copy, "brighter": _brighten}, every=2)
    assert report.n == 2 and report.measure == "do-no-harm"
    data = report.to_json()
    assert data["measure"] == "do-no-harm" and data["rainy"]["psnr"] is None
    assert data["models"]["copy"]["psnr"] is None and data["models"]["copy"]["ssim"] == 1.0
    expected = [reference_psnr_ssim(_brighten(photos[i]), photos[i]) for i in (0, 2)]  # every 2nd: 1.png, 3.png
    assert data["models"]["brighter"]["psnr"] == pytest.approx(np.mean([p for p, _ in expected]), abs=1e-3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DerainError, match="no images directly in this folder"):
        rain_free_set(tmp_path / "empty")


def test_cli_clean_measures_do_no_harm_and_says_so(tmp_path: Path, tiny_prenet: Path) -> None:
    rng = np.random.default_rng(2)
    for n in range(3):
        _write(tmp_path / "photos" / f"{n}.png", rng.integers(20, 230, (20, 24, 3), dtype=np.uint8))
    args = ["eval", "--data", str(tmp_path / "photos"), "-m", "prenet", "-w", str(tiny_prenet), "--device", "cpu"]
    result = runner.invoke(app, [*args, "--clean", "--json", "--every", "2"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["measure"] == "do-no-harm" and data["n"] == 2 and data["models"]["prenet"]["psnr"] > 0
    assert "do-no-harm" in result.stderr and "rainy input" not in result.stderr  # --json owns stdout: the table on stderr
    shown = runner.invoke(app, [*args, "--clean", "--every", "2"])
    assert shown.exit_code == 0 and "do-no-harm" in shown.stdout and "prenet" in shown.stdout  # the result, on stdout
    assert "do-no-harm" not in shown.stderr
    refused = runner.invoke(app, args)
    assert refused.exit_code == 1 and "no paired layout found" in refused.stderr and "add --clean" in refused.stderr


@pytest.fixture
def tiny_prenet(tmp_path: Path) -> Path:
    """A randomly initialised PReNet saved as .safetensors."""
    torch.manual_seed(0)
    net = create_model("prenet")
    return save_safetensors(net.state_dict(), tmp_path / "tiny.safetensors", architecture_metadata("prenet"))


def test_cli_json_is_the_only_stdout(tmp_path: Path, tiny_prenet: Path) -> None:
    images = _paired_set(tmp_path / "set", count=3)
    cmd = [
        sys.executable, "-m", "derain_cli", "eval", "--data", str(tmp_path / "set"), "--model", "prenet",
        "--weights", str(tiny_prenet), "--limit", "2", "--json", "--tta", "--device", "cpu",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"dataset", "measure", "n", "rainy", "models"}
    assert data["dataset"] == "set" and data["n"] == 2
    assert list(data["models"]) == ["prenet", "prenet+tta"]
    assert {"psnr", "ssim", "seconds_per_image"} <= set(data["models"]["prenet"])
    assert {"psnr_gain", "ssim_gain", "time_ratio"} <= set(data["models"]["prenet+tta"])
    expected = [reference_psnr_ssim(*images[n]) for n in ("1", "2")]
    assert data["rainy"]["psnr"] == pytest.approx(np.mean([p for p, _ in expected]), abs=1e-3)
    assert data["rainy"]["ssim"] == pytest.approx(np.mean([s for _, s in expected]), abs=1e-5)
    assert "PSNR (Y)" in proc.stderr and "prenet+tta" in proc.stderr


def test_cli_reports_failures_and_exits_1(tmp_path: Path, tiny_prenet: Path) -> None:
    _paired_set(tmp_path, count=2)
    _write(tmp_path / "target" / "2.png", np.zeros((8, 8, 3), dtype=np.uint8))
    result = runner.invoke(app, ["eval", "--data", str(tmp_path), "-m", "prenet", "-w", str(tiny_prenet), "--json", "-q"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["n"] == 1
    assert "2.png: size 24x20 differs" in result.stderr and "1 of 2 pair(s) failed" in result.stderr


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        ([], 1, "known layouts: input/+target/"),
        (["--layout-free"], 2, "No such option"),
        (["-w", "b.pth"], 2, "once per --model"),
        (["--tta-mode", "spin"], 2, "unknown TTA mode"),
    ],
)
def test_cli_usage_errors(tmp_path: Path, tiny_prenet: Path, extra: list[str], code: int, message: str) -> None:
    if code == 1:
        _write(tmp_path / "photo.png", np.zeros((12, 12, 3), dtype=np.uint8))
    else:
        _paired_set(tmp_path, count=1)
    result = runner.invoke(app, ["eval", "--data", str(tmp_path), "-m", "prenet", "-w", str(tiny_prenet), *extra])
    assert result.exit_code == code
    assert message in result.stderr


@pytest.mark.slow
def test_first_four_rain100h_pairs_match_an_independent_implementation(
    tmp_path: Path, rain100h: Path, prenet_weights: Path
) -> None:
    cmd = [
        sys.executable, "-m", "derain_cli", "eval", "--data", str(rain100h), "--model", "prenet", "--weights",
        str(prenet_weights), "--limit", "4", "--json", "--device", "cpu", "--save-outputs", str(tmp_path), "-q",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["n"] == 4
    rows: dict[str, list[tuple[float, float]]] = {RAINY: [], "prenet": []}
    for n in range(1, 5):
        clean = np.asarray(Image.open(rain100h / "target" / f"{n}.png").convert("RGB"))
        rainy = np.asarray(Image.open(rain100h / "input" / f"{n}.png").convert("RGB"))
        output = np.asarray(Image.open(tmp_path / "prenet" / f"{n}.png").convert("RGB"))
        rows[RAINY].append(reference_psnr_ssim(rainy, clean))
        rows["prenet"].append(reference_psnr_ssim(output, clean))
    for label, measured in ((RAINY, data["rainy"]), ("prenet", data["models"]["prenet"])):
        assert measured["psnr"] == pytest.approx(np.mean([p for p, _ in rows[label]]), abs=0.02)
        assert measured["ssim"] == pytest.approx(np.mean([s for _, s in rows[label]]), abs=0.001)
    assert data["models"]["prenet"]["psnr"] > data["rainy"]["psnr"] + 10  # the authors' weights really derain


def test_prenet_real_runs_the_authors_real_photo_graph(rain100h: Path) -> None:
    # The real-photo checkpoint only derains through its own graph (weights.toml's options for
    # prenet-real); through the standard PReNet graph it scores below the rainy input.
    real = shared_file("weights/prenet_real_authors.pth")
    paired = find_pairs(rain100h)
    report = evaluate(paired, load_methods(["prenet-real", "prenet"], [real, real], device="cpu"), limit=1)
    scores = report.to_json()
    assert scores["models"]["prenet-real"]["psnr"] > scores["rainy"]["psnr"] + 8
    assert scores["models"]["prenet"]["psnr"] < scores["rainy"]["psnr"]


def test_an_unwritable_save_outputs_folder_is_refused_before_any_method_runs(tmp_path: Path) -> None:
    _paired_set(tmp_path / "set", count=2)
    (tmp_path / "file").write_text("a file, not a folder")
    calls = []

    def method(rgb: np.ndarray) -> np.ndarray:
        calls.append(1)
        return rgb

    with pytest.raises(DerainError, match="cannot write there"):
        evaluate(find_pairs(tmp_path / "set"), {"m": method}, save_outputs=tmp_path / "file" / "out")
    assert calls == []
