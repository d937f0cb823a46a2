"""Image files: known pixel values read back exactly in every mode, palette/alpha/16-bit handling, errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from toolkit.data.images import IMAGE_EXTENSIONS, IMAGE_MODES, list_images, read_image
from toolkit.errors import DataError

GREY8 = np.array([[0, 1, 51, 127], [128, 200, 254, 255]], np.uint8)  # (2, 4)
RGB8 = np.stack([GREY8, 255 - GREY8, np.roll(GREY8, 1, axis=1)], axis=2)  # (2, 4, 3), distinct channels
GREY16 = np.array([[1000, 1255, 1510, 2020], [1000, 2020, 1765, 1000]], np.uint16)  # min 1000, max 1000 + 4 * 255


def _unit(a: np.ndarray, full: float) -> np.ndarray:
    return a.astype(np.float32) / np.float32(full)


@pytest.fixture
def files(tmp_path):
    Image.fromarray(GREY8).save(tmp_path / "grey8.png")
    Image.fromarray(RGB8).save(tmp_path / "rgb8.png")
    Image.fromarray(np.dstack([RGB8, np.full_like(GREY8, 7)])).save(tmp_path / "rgba.png")
    Image.fromarray(GREY16).save(tmp_path / "grey16.png")
    Image.fromarray(GREY16.astype(">u2")).save(tmp_path / "grey16b.tif")  # PIL mode I;16B, big-endian
    Image.fromarray(GREY16.astype(np.float32) / 4096).save(tmp_path / "float.tif")  # PIL mode F
    pal = Image.fromarray(np.array([[0, 1, 2, 3], [3, 2, 1, 0]], np.uint8), "P")
    pal.putpalette([10, 20, 30, 40, 50, 60, 70, 80, 90, 255, 0, 128])
    pal.save(tmp_path / "palette.png")
    return tmp_path


# --------------------------------------------------------------------------- 8-bit files
def test_8bit_values_in_every_mode(files):
    rgb8 = read_image(files / "rgb8.png", "rgb8")
    assert rgb8.dtype == np.uint8 and rgb8.shape == (2, 4, 3) and np.array_equal(rgb8, RGB8)
    assert read_image(files / "rgb8.png").dtype == np.uint8  # 'rgb8' is the default
    rgb = read_image(files / "rgb8.png", "rgb")
    assert rgb.dtype == np.float32 and np.array_equal(rgb, RGB8.astype(np.float32))
    assert np.array_equal(read_image(files / "rgb8.png", "rgb_unit"), _unit(RGB8, 255))
    grey = read_image(files / "grey8.png", "grey")
    assert grey.dtype == np.float32 and grey.shape == (2, 4, 1) and np.array_equal(grey[..., 0], GREY8)
    unit = read_image(files / "grey8.png", "grey_unit")
    assert unit.shape == (2, 4, 1) and np.array_equal(unit[..., 0], _unit(GREY8, 255))
    assert unit.min() == 0.0 and unit.max() == 1.0
    # colour to grey is PIL's luma conversion
    luma = np.asarray(Image.fromarray(RGB8).convert("L"), np.float32)
    assert np.array_equal(read_image(files / "rgb8.png", "grey")[..., 0], luma)


def test_grey_file_as_rgb(files):
    assert np.array_equal(read_image(files / "grey8.png", "rgb"), np.repeat(GREY8[..., None], 3, 2).astype(np.float32))
    with pytest.warns(UserWarning, match=r"grey8\.png is a grey image; converted to RGB"):
        img = read_image(files / "grey8.png", "rgb8")
    assert np.array_equal(img, np.repeat(GREY8[..., None], 3, 2))


def test_alpha_is_dropped(files):
    with pytest.warns(UserWarning, match=r"rgba\.png has an alpha channel"):
        assert np.array_equal(read_image(files / "rgba.png", "rgb8"), RGB8)
    assert np.array_equal(read_image(files / "rgba.png", "rgb"), RGB8.astype(np.float32))


def test_palette_is_expanded(files):
    colours = np.array([[10, 20, 30], [40, 50, 60], [70, 80, 90], [255, 0, 128]], np.uint8)
    expected = colours[np.array([[0, 1, 2, 3], [3, 2, 1, 0]])]  # (2, 4, 3)
    assert np.array_equal(read_image(files / "palette.png", "rgb8"), expected)
    assert np.array_equal(read_image(files / "palette.png", "rgb"), expected.astype(np.float32))
    assert read_image(files / "palette.png", "grey").shape == (2, 4, 1)


# --------------------------------------------------------------------------- 16-bit and float files
def test_16bit_stretch_and_unit_scale(files):
    for name in ("grey16.png", "grey16b.tif"):  # little- and big-endian files read the same
        grey = read_image(files / name, "grey")
        # min..max = 1000..2020 maps to 0..255: a step of 255 grey levels is 63.75, exactly
        assert grey.dtype == np.float32 and np.array_equal(grey[..., 0], (GREY16 - 1000) * np.float32(0.25)), name
        rgb = read_image(files / name, "rgb")
        assert rgb.shape == (2, 4, 3) and np.array_equal(rgb, np.repeat(grey, 3, axis=2)), name
        unit = read_image(files / name, "grey_unit")
        assert unit.dtype == np.float32 and np.array_equal(unit[..., 0], _unit(GREY16, 65535)), name
        assert np.array_equal(read_image(files / name, "rgb_unit"), np.repeat(unit, 3, axis=2)), name


def test_16bit_file_is_refused_by_rgb8(files):
    cv2.imwrite(str(files / "deep.png"), np.full((3, 2, 3), 4000, np.uint16))
    with pytest.raises(DataError, match=r"deep\.png is a 16-bit uint16 image; mode 'rgb8' reads 8-bit images only"):
        read_image(files / "deep.png", "rgb8")


def test_float_file_keeps_its_values(files):
    stored = GREY16.astype(np.float32) / 4096
    assert np.array_equal(read_image(files / "float.tif", "grey_unit")[..., 0], stored)
    assert np.array_equal(read_image(files / "float.tif", "grey")[..., 0], (GREY16 - 1000) * np.float32(0.25))


def test_constant_high_depth_image_stretches_to_zeros(tmp_path):
    Image.fromarray(np.full((2, 3), 777, np.uint16)).save(tmp_path / "flat.png")
    assert not read_image(tmp_path / "flat.png", "grey").any()


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("mode", IMAGE_MODES)
def test_missing_and_corrupt_files_name_the_path(tmp_path, mode):
    with pytest.raises(DataError, match=r"cannot read image file .*nowhere\.png: no such file"):
        read_image(tmp_path / "nowhere.png", mode)
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"cannot read image file .*junk\.png"):
        read_image(tmp_path / "junk.png", mode)
    Image.fromarray(RGB8).save(tmp_path / "cut.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "cut.png").read_bytes()[:60])  # truncated
    with pytest.raises(DataError, match=r"cut\.png"):
        read_image(tmp_path / "cut.png", mode)


def test_unexpected_channel_count_is_named(files, monkeypatch):
    monkeypatch.setattr(cv2, "imread", lambda *a: np.zeros((2, 4, 2), np.uint8))
    with pytest.raises(DataError, match=r"rgb8\.png has 2 channels; expected 1 \(grey\), 3 \(RGB\) or 4"):
        read_image(files / "rgb8.png", "rgb8")


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode must be one of"):
        read_image("x.png", "RGB")


# --------------------------------------------------------------------------- listing
def test_list_images_sorted_and_filtered(tmp_path):
    for name in ("b.png", "a.JPG", "c.tiff", "notes.txt", "d.webp"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.JPG", "b.png", "c.tiff", "d.webp"]
    assert ".webp" in IMAGE_EXTENSIONS


def test_list_images_missing_or_empty_folder_is_named(tmp_path):
    with pytest.raises(DataError, match=r"image folder .*nowhere does not exist \(expected a folder of \.png"):
        list_images(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("")
    with pytest.raises(DataError, match=r"no images \(\.png, \.jpg.*\) in .*empty"):
        list_images(tmp_path / "empty")


def test_write_image_round_trips_and_names_the_file_it_cannot_write(tmp_path):
    from toolkit.data import write_image

    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5)
    np.testing.assert_array_equal(read_image(write_image(tmp_path / "rgb.png", rgb), "rgb8"), rgb)
    assert np.array_equal(read_image(write_image(tmp_path / "g.png", grey), "grey")[..., 0], grey.astype(np.float32))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DataError, match=f"cannot write {blocker / 'out.png'}"):
        write_image(blocker / "out.png", rgb)
    with pytest.raises(DataError, match="unknown image extension"):
        write_image(tmp_path / "out.xyz", rgb)
    with pytest.raises(DataError, match=r"uint8 \(H, W\) or \(H, W, 3\)"):
        write_image(tmp_path / "out.png", rgb.astype(np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("mode", ["grey", "rgb", "grey_unit", "rgb_unit"])
def test_non_finite_float_pixels_are_refused_naming_the_file_and_pixel(tmp_path, mode, bad):
    # a stretch from min..max would turn the whole image into zeros (NaN min/max), with no word said
    a = np.linspace(0, 1, 24, dtype=np.float32).reshape(4, 6)
    a[2, 3] = bad
    Image.fromarray(a).save(tmp_path / "f.tif")
    with pytest.raises(DataError, match=r"f.tif: 1 NaN or infinite pixel\(s\) of 24 \(first at row 2, column 3\)"):
        read_image(tmp_path / "f.tif", mode)
