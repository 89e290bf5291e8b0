"""`derain eval --report` (image and video sets): the page references only files that exist, and every number
it shows is the JSON's."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import cv2
import numpy as np
import pytest
from PIL import Image

from cli_checks import invoke
from derain_cli.evaluate import RAINY
from derain_cli.imageio import read_rgb8
from derain_cli.report.html import COLUMNS, STRIP_PIXELS, TARGET, ReportImage, ReportSequence, write_report
from derain_cli.synth.render import render_rain
from derain_cli.video.evaluate import TARGET as CLEAN_ROW
from rainy_sequences import rainy_sequence, write_frames, write_video
from video_clips import one_torch_thread, scene  # noqa: F401  (fixture)

NAMES = ("street_0", "street_1", "park_0")  # SCENE_K: two scenes


class _Page(HTMLParser):
    """Every image address, every number cell (with its JSON pointer), anything that would need a network, and
    the frame strips (section id -> row label -> (frame name, address) in order)."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.strips: dict[str, dict[str, list[tuple[str, str]]]] = {}
        self._section = ""
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
        if tag == "section":
            self._section = attributes["id"]
        if tag == "img":
            self.images.append(attributes["src"])
            if attributes.get("title"):  # a strip frame: alt is "LABEL frame NAME"
                label = attributes["alt"].rsplit(" frame ", 1)[0]
                self.strips.setdefault(self._section, {}).setdefault(label, []).append((attributes["title"], attributes["src"]))
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
    result = {  # the shape of derain eval's JSON on a video set (derain_cli.video.evaluate)
        "dataset": "video", "layout": "input/+target/SEQ", "video": True, "flow_on": "target", "frames": "1:", "n": 3, "rows": rows,
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


def _video_report(tmp_path: Path, *args: object) -> tuple[dict, _Page, Path]:
    """``derain eval --report`` on a video set with the tiny model, frame by frame; (JSON, parsed page, page)
    after the checks every page passes: its images exist, its numbers are the JSON's."""
    html = tmp_path / "video report.html"
    result = invoke("eval", "--device", "cpu", "-q", "--temporal", "0", "--report", html, "--json", *args)
    assert result.exit_code == 0, result.output
    assert f"report: {html}" in result.stderr
    data = json.loads(result.stdout)
    page = _Page()
    page.feed(html.read_text(encoding="utf-8"))
    _check_images(page, html)
    pointers = _check_numbers(page, data)
    for sequence in data["sequences"]:
        assert {f"/sequences/{sequence}/rows/sapnet/warping_error_x1e3", f"/sequences/{sequence}/rows/{RAINY}/warping_error_x1e3"} <= pointers
    assert {"/rows/sapnet/warping_error_x1e3", "/rows/sapnet/seconds_per_frame"} <= pointers
    return data, page, html


def _pixels(html: Path, src: str) -> np.ndarray:
    return read_rgb8(html.parent / unquote(src))


def test_video_report_shows_each_sequence_with_a_strip_from_the_middle_of_its_range(tmp_path, tiny_weights):
    root = tmp_path / "set"
    sequences = {"s1": rainy_sequence(9, seed=1), "s2": rainy_sequence(4, seed=2)}
    for name, (rainy, clean) in sequences.items():
        write_frames(root / "input" / name, rainy)
        write_frames(root / "target" / name, clean)
    data, page, html = _video_report(tmp_path, "--data", root, "-m", "sapnet", "-w", tiny_weights, "--frames", "2:")
    assert (data["sequences"]["s1"]["frames"], data["sequences"]["s2"]["frames"]) == (8, 3)
    assert {"/rows/sapnet/psnr", "/sequences/s1/rows/sapnet/ssim", f"/sequences/s2/rows/{CLEAN_ROW}/warping_error_x1e3"} <= {
        pointer for pointer, _ in page.cells
    }
    outputs = html.parent / "video report_files" / "outputs" / "sapnet"
    shown = {"seq0000_s1": ("s1", range(3, 9)), "seq0001_s2": ("s2", range(2, 5))}  # 6 of frames 2-9, all of 2-4
    assert page.strips.keys() == shown.keys()
    for section, (name, numbers) in shown.items():
        rainy, clean = sequences[name]
        strips = page.strips[section]
        assert list(strips) == [RAINY, "sapnet", TARGET]
        for label, frames in strips.items():
            assert [title for title, _ in frames] == [str(n) for n in numbers], label
        for n, (_, src) in zip(numbers, strips[RAINY]):
            assert np.array_equal(_pixels(html, src), rainy[n - 1])
        for _, src in strips[TARGET]:
            assert np.array_equal(_pixels(html, src), clean[0])
        for n, (_, src) in zip(numbers, strips["sapnet"]):
            assert np.array_equal(_pixels(html, src), read_rgb8(outputs / name / f"{n}.png"))
        assert len(list((outputs / name).iterdir())) == data["sequences"][name]["frames"]  # every scored frame saved


def test_video_report_of_an_input_only_video_file_has_no_target_row_and_downscaled_frames(tmp_path, tiny_weights):
    rainy, _ = rainy_sequence(8, height=200, width=100, seed=4)
    clip = write_video(tmp_path / "street.mkv", rainy)
    saved = tmp_path / "saved"
    data, page, html = _video_report(tmp_path, "--data", clip, "-m", "sapnet", "-w", tiny_weights, "--save-outputs", saved)
    assert data["flow_on"] == "input" and list(data["rows"]) == [RAINY, "sapnet"]
    assert not any(pointer and pointer.endswith(("/psnr", "/ssim")) for pointer, _ in page.cells)
    strips = page.strips["seq0000_street"]
    assert list(strips) == [RAINY, "sapnet"]
    assert [title for title, _ in strips[RAINY]] == [f"{n:05d}" for n in range(2, 8)]
    for n, (_, src) in zip(range(2, 8), strips[RAINY]):
        assert np.array_equal(_pixels(html, src), cv2.resize(rainy[n - 1], (96, STRIP_PIXELS), interpolation=cv2.INTER_AREA))
    assert all(_pixels(html, src).shape == (STRIP_PIXELS, 96, 3) for _, src in strips["sapnet"])
    assert len(list((saved / "sapnet" / "street").iterdir())) == 8  # into --save-outputs, not the page's folder
    assert not (html.parent / "video report_files" / "outputs").exists()
