"""`derain eval --report`: the page references only files that exist, and every number it shows is the JSON's."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from PIL import Image

from cli_checks import invoke
from derain_cli.evaluate import RAINY
from derain_cli.report.html import COLUMNS, ReportImage, ReportSequence, write_report
from derain_cli.synth.render import render_rain
from video_clips import scene

NAMES = ("street_0", "street_1", "park_0")  # SCENE_K: two scenes


class _Page(HTMLParser):
    """Every image address, every number cell (with its JSON pointer) and anything that would need a network."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.cells: list[tuple[str | None, str]] = []
        self.remote: list[str] = []
        self.wipes = 0
        self._cell: str | None | bool = False
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for key in ("src", "href"):
            if attributes.get(key) and "://" in attributes[key]:
                self.remote.append(attributes[key])
        if tag == "img":
            self.images.append(attributes["src"])
        if tag == "script" and "src" in attributes or tag == "link":
            self.remote.append(tag)
        if tag == "figure" and "wipe" in (attributes.get("class") or ""):
            self.wipes += 1
        if tag == "td":
            self._cell, self._text = attributes.get("data-json"), ""

    def handle_data(self, data: str) -> None:
        if self._cell is not False:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self.cells.append((self._cell, self._text))
            self._cell = False


def _resolve(data: object, pointer: str) -> object:
    for part in pointer.split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data


def _check_numbers(page: _Page, data: dict) -> set[str]:
    """Each number cell equals the JSON value its pointer names, to the digits shown; returns the pointers."""
    pointers = set()
    for pointer, text in page.cells:
        if pointer is None:
            assert text == "", f"a value without its JSON pointer: {text!r}"
            continue
        value = _resolve(data, pointer)
        if value is None:
            assert text == "n/a", (pointer, text)
        else:
            decimals = len(text.partition(".")[2])
            key = pointer.rsplit("/", 1)[1]
            assert decimals == COLUMNS.get(key, (key, 0 if key == "n" else 4))[1], (pointer, text)
            assert float(text) == pytest.approx(value, abs=0.5 * 10**-decimals + 1e-12), (pointer, text, value)
        pointers.add(pointer)
    return pointers


def _check_images(page: _Page, html: Path) -> None:
    assert not page.remote, page.remote
    for src in page.images:
        path = html.parent / unquote(src)
        assert path.is_file(), src
        with Image.open(path) as image:
            image.verify()


def _write_set(root: Path) -> None:
    for k, name in enumerate(NAMES):
        clean = scene(64, 48, k)
        rainy, _ = render_rain(clean, preset="heavy", seed=k)
        for sub, pixels in (("input", rainy), ("target", clean)):
            (root / sub).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / sub / f"{name}.png")


def test_eval_report_matches_the_json_of_the_same_run(tmp_path, tiny_weights, prenet_weights):
    _write_set(tmp_path / "set")
    html = tmp_path / "out" / "my report.html"  # a space: addresses must be quoted
    result = invoke(
        "eval", "--data", tmp_path / "set", "-m", "sapnet", "-w", tiny_weights, "-m", "prenet", "-w", prenet_weights,
        "--precision", "fp32", "--report", html, "--json", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sorted(entry["name"] for entry in data["images"]) == sorted(NAMES)
    assert set(data["scenes"]) == {"street", "park"} and data["scenes"]["street"]["n"] == 2

    page = _Page()
    page.feed(html.read_text(encoding="utf-8"))
    _check_images(page, html)
    pointers = _check_numbers(page, data)
    for label in ("sapnet", "prenet"):  # every table is there: means, per scene, per image
        assert f"/models/{label}/psnr" in pointers and f"/scenes/park/models/{label}/ssim" in pointers
        assert all(f"/images/{k}/models/{label}/psnr" in pointers for k in range(3))
    assert "/rainy/rgb_psnr" in pointers and "/models/prenet/seconds_per_image" in pointers
    assert page.wipes == 3 * 3  # rainy input and each model against the target, for each pair
    crops = [src for src in page.images if "/crop" in src]
    assert len(crops) == 3 * 2 * 4  # two crops per pair, each of rainy, two models and target
    saved = Image.open(html.parent / "my report_files" / "outputs" / "prenet" / f"{data['images'][0]['name']}.png")
    assert saved.size == (64, 48)


def test_a_video_sequence_row_carries_its_warping_error_and_a_frame_strip(tmp_path):
    frames = []
    for k in range(3):
        paths = {}
        for role, pixels in (("rainy", render_rain(scene(40, 32, k), preset="heavy", seed=k)[0]), ("target", scene(40, 32, k))):
            paths[role] = tmp_path / f"{role}_{k}.png"
            Image.fromarray(pixels).save(paths[role])
        frames.append(ReportImage(f"a1/{k}", paths["rainy"], paths["target"], {"s2vd": paths["rainy"]}))
    rows = {RAINY: {"psnr": 20.5, "ssim": 0.7, "warping_error_x1e3": 9.57}, "s2vd": {"psnr": 25.25, "ssim": 0.8, "warping_error_x1e3": 3.1, "seconds_per_frame": 0.5}}
    result = {  # the shape of derain eval's JSON on a video set (derain_cli.video.evaluate on main)
        "dataset": "video", "video": True, "n": 3, "rows": rows,
        "sequences": {"a1": {"frames": 3, "first": "a1/0", "last": "a1/2", "rows": {
            label: {**row, "per_frame": {"psnr": [row["psnr"]] * 3, "ssim": [row["ssim"]] * 3}} for label, row in rows.items()
        }}},
    }  # fmt: skip
    html = write_report(result, [], tmp_path / "video.html", sequences=[ReportSequence("a1", frames)])
    page = _Page()
    page.feed(html.read_text(encoding="utf-8"))
    _check_images(page, html)
    pointers = _check_numbers(page, result)
    assert {"/sequences/a1/rows/s2vd/warping_error_x1e3", "/rows/s2vd/warping_error_x1e3", "/rows/s2vd/seconds_per_frame"} <= pointers
    assert len(page.images) == 3 * 3  # rainy, s2vd, target strips of three frames
    assert RAINY in html.read_text(encoding="utf-8")
