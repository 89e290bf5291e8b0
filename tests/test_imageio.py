import cv2
import numpy as np
import pytest
from PIL import Image

from derain_cli.errors import DerainError
from derain_cli.imageio import LoadedImage, output_suffix, read_image, read_rgb8, to_uint8, write_image


def _gradient(h=21, w=33):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 7 % 256, yy * 11 % 256, (xx + yy) * 5 % 256], axis=2).astype(np.uint8)


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.fromarray(_gradient(20, 40)).save(path, exif=exif, quality=95)
    image = read_image(path)
    assert image.rgb.shape == (40, 20, 3)


def test_rgba_alpha_passes_through_unchanged(tmp_path):
    rgba = np.dstack([_gradient(), np.arange(21 * 33).reshape(21, 33).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    write_image(tmp_path / "b.png", LoadedImage(1 - image.rgb, image.alpha, 8, False))
    back = np.asarray(Image.open(tmp_path / "b.png"))
    assert back.shape == (21, 33, 4)
    np.testing.assert_array_equal(back[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(back[..., :3], 255 - rgba[..., :3])


def test_grayscale_stays_grayscale(tmp_path):
    Image.fromarray(_gradient()[..., 0], "L").save(tmp_path / "g.png")
    image = read_image(tmp_path / "g.png")
    assert image.grayscale and image.rgb.shape == (21, 33, 3)
    write_image(tmp_path / "o.png", image)
    assert Image.open(tmp_path / "o.png").mode == "L"


def test_palette_image_is_read_as_rgb(tmp_path):
    Image.fromarray(_gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png")
    assert image.rgb.shape == (21, 33, 3) and not image.grayscale and image.alpha is None


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_png_and_tiff_round_trip_in_sixteen_bits(tmp_path, suffix):
    data = (np.random.default_rng(0).random((15, 17, 3)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / f"deep{suffix}"), data)
    image = read_image(tmp_path / f"deep{suffix}")
    assert image.bit_depth == 16
    write_image(tmp_path / f"out{suffix}", image)
    back = cv2.imread(str(tmp_path / f"out{suffix}"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, data)


def test_an_existing_output_is_replaced_only_with_overwrite(tmp_path):
    image = LoadedImage(np.zeros((4, 5, 3), np.float32), None, 8, False)
    (tmp_path / "o.png").write_bytes(b"keep")
    with pytest.raises(DerainError, match="already exists"):
        write_image(tmp_path / "o.png", image)
    assert (tmp_path / "o.png").read_bytes() == b"keep"
    write_image(tmp_path / "o.png", image, overwrite=True)
    assert Image.open(tmp_path / "o.png").size == (5, 4)


def test_eight_bit_views_round_and_clip(tmp_path):
    assert to_uint8(np.array([-0.1, 0.0, 0.5 / 255, 0.7 / 255, 1.0, 1.2])).tolist() == [0, 0, 0, 1, 255, 255]
    deep = np.array([[[0, 128, 65535]]], dtype=np.uint16).repeat(3, 0)  # BGR in cv2's order
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    rgb = read_rgb8(tmp_path / "deep.png")
    assert rgb.dtype == np.uint8 and rgb.shape == (3, 1, 3)
    assert rgb[0, 0].tolist() == [255, 0, 0]  # 65535 -> 255, 128 -> 0 (128 / 257 rounds down), in RGB order


def test_sixteen_bit_grayscale(tmp_path):
    data = (np.arange(15 * 17).reshape(15, 17) * 250).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "g16.png"), data)
    image = read_image(tmp_path / "g16.png")
    assert image.bit_depth == 16 and image.grayscale
    write_image(tmp_path / "o16.png", image)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "o16.png"), cv2.IMREAD_UNCHANGED), data)


def test_truncated_and_non_image_files_are_named(tmp_path):
    Image.fromarray(_gradient(200, 200)).save(tmp_path / "full.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "full.png").read_bytes()[:300])
    (tmp_path / "text.jpg").write_text("hello")
    for name, reason in (("cut.png", "truncated"), ("text.jpg", "not an image"), ("none.png", "not found")):
        with pytest.raises(DerainError, match=reason) as info:
            read_image(tmp_path / name)
        assert name in str(info.value)


def test_jpeg_output_drops_alpha_and_honours_quality(tmp_path):
    rgb = np.random.default_rng(1).random((32, 32, 3)).astype(np.float32)
    image = LoadedImage(rgb, np.ones((32, 32), np.float32), 8, False)
    write_image(tmp_path / "lo.jpg", image, quality=10)
    write_image(tmp_path / "hi.jpg", image, quality=95)
    assert Image.open(tmp_path / "hi.jpg").mode == "RGB"
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size


def test_unknown_format_is_refused():
    assert output_suffix("JPG") == ".jpg"
    with pytest.raises(DerainError, match="unknown output format"):
        output_suffix("gif")
