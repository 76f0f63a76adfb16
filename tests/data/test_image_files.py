"""Folders and zips of images made here (valid, grayscale, RGBA, truncated, empty, text, unsafe members),
read through `load("images")` and `load("celeba")`."""
import io
import logging
import os
import stat
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from gan_tf import data
from gan_tf.data import archive, celeba, image_files, network, tfds_source

RGB = (200, 100, 50)


def _png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg(array, quality=90):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _solid(height, width, colour):
    return np.broadcast_to(np.array(colour, np.uint8), (height, width, len(colour))).copy()


def _fake_png_header(width, height):
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's calling card)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _corrupt_png_data(blob):
    """Flips bytes inside the IDAT chunk (its CRC no longer matches) but keeps IEND: passes the cheap
    completeness check, fails to decode."""
    start = blob.index(b"IDAT") + 8
    return blob[:start] + bytes(b ^ 0xFF for b in blob[start:start + 16]) + blob[start + 16:]


# Expected values of the good files after decoding, in [0, 255]: everything is decoded to RGB.
GOOD = {
    "a/rgb.png": (_png(_solid(30, 40, RGB)), RGB),
    "a/b/gray.png": (_png(_solid(20, 20, (77,))[..., 0]), (77, 77, 77)),
    "rgba.png": (_png(_solid(16, 24, RGB + (128,))), RGB),  # alpha dropped
    "photo.jpg": (_jpeg(_solid(50, 30, (90, 160, 220))), None),  # lossy: only checked for range
}
BAD = {
    "broken.jpg": _jpeg(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))[:900],
    "empty.png": b"",
    "notes.txt": b"not an image\n",
}


def _make_folder(root):
    for name, (blob, _) in GOOD.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    for name, blob in BAD.items():
        (root / "z" / name).parent.mkdir(exist_ok=True)
        (root / "z" / name).write_bytes(blob)
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: ignored silently
    return root


def _add_symlink(zf, name, target):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    zf.writestr(info, target)


def _make_zip(path, extra_unsafe=True):
    with zipfile.ZipFile(path, "w") as zf:
        for name, (blob, _) in GOOD.items():
            zf.writestr("pics/" + name, blob)
        for name, blob in BAD.items():
            zf.writestr("pics/z/" + name, blob)
        zf.writestr("__MACOSX/pics/._rgb.png", b"resource fork")  # ignored silently
        if extra_unsafe:
            zf.writestr("../evil.png", GOOD["a/rgb.png"][0])
            zf.writestr("/abs.png", GOOD["a/rgb.png"][0])
            _add_symlink(zf, "pics/link.png", "/etc/passwd")
    return path


def _array(ds):
    return np.stack(list(ds.as_numpy_iterator()))


def _check_good(x, channels=3):
    assert x.dtype == np.float32 and x.shape == (4, 8, 8, channels)
    assert x.min() >= -1.0 and x.max() <= 1.0
    exact = [colour for _, (_, colour) in sorted(GOOD.items())]  # scan order is sorted by path
    for image, colour in zip(x, exact):
        if colour is None:
            continue
        want = np.array(colour, np.float64) if channels == 3 else \
            np.round(np.dot(colour, [0.2989, 0.5870, 0.1140]))[None]
        np.testing.assert_allclose(image, np.broadcast_to(want / 127.5 - 1, image.shape), atol=1e-6)


@pytest.fixture(params=["memory", "stream"])
def cache_mode(request, monkeypatch):
    """Both pipelines: decoded once into memory, and decoded every epoch (cache budget 0)."""
    if request.param == "stream":
        monkeypatch.setenv("GAN_TF_CACHE_MB", "0")
    else:
        monkeypatch.delenv("GAN_TF_CACHE_MB", raising=False)
    return request.param


def test_messy_folder_skips_and_names(tmp_path, caplog, cache_mode):
    root = _make_folder(tmp_path / "photos")
    with caplog.at_level(logging.WARNING):
        ds, info = data.load("images", data_dir=root, image_size=8, return_info=True)
    x = _array(ds)
    _check_good(x)
    assert info.num_examples == 4 and info.image_shape == (8, 8, 3) and info.num_classes is None
    assert info.source == "files" and "3 unusable file(s) skipped" in info.note
    warning = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "skipped 3 unusable file(s) of 7" in warning
    assert "z/broken.jpg: truncated or corrupt JPEG" in warning
    assert "z/empty.png: zero-byte file" in warning
    assert "z/notes.txt: not an image file" in warning
    assert ".DS_Store" not in warning


def test_grayscale_output(tmp_path, cache_mode):
    root = _make_folder(tmp_path / "photos")
    _check_good(_array(data.load("images", data_dir=root, image_size=8, channels=1)), channels=1)


def test_strict_stops_at_first_bad_file(tmp_path):
    root = _make_folder(tmp_path / "photos")
    with pytest.raises(data.DataError, match=r"z/broken\.jpg: truncated or corrupt JPEG .*strict mode"):
        data.load("images", data_dir=root, strict=True)


def test_empty_and_useless_folders(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(data.DataError, match=r"empty: no usable image"):
        data.load("images", data_dir=empty)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "readme.txt").write_text("hello")
    (junk / "zero.jpg").write_bytes(b"")
    with pytest.raises(data.DataError, match=r"junk: no usable image .*2 file\(s\) skipped"):
        data.load("images", data_dir=junk)


def test_images_arguments(tmp_path):
    with pytest.raises(data.DataError, match=r"(?s)no source could provide images.*no data_dir given.*--data_dir"):
        data.load("images")
    with pytest.raises(data.DataError, match=r"dataset 'images' has no labels"):
        data.load("images", data_dir=tmp_path, with_labels=True)
    not_zip = tmp_path / "photo.jpg"
    not_zip.write_bytes(GOOD["photo.jpg"][0])
    with pytest.raises(data.DataError, match=r"photo\.jpg' is a file but not a zip archive"):
        data.load("images", data_dir=not_zip)
    assert data.sources("images") == ("auto", "files")


def test_zip_read_in_place_rejects_unsafe_members(tmp_path, caplog, cache_mode):
    path = _make_zip(tmp_path / "photos.zip")
    with caplog.at_level(logging.WARNING):
        ds, info = data.load("images", data_dir=path, image_size=8, return_info=True)
    _check_good(_array(ds))
    assert info.num_examples == 4 and "zip archive" in info.note
    warning = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "skipped 6 unusable file(s)" in warning
    assert "../evil.png: '..' component in the path (path traversal)" in warning
    assert "/abs.png: absolute path in the archive" in warning
    assert "pics/link.png: symbolic link" in warning
    assert "pics/z/broken.jpg: truncated or corrupt JPEG" in warning
    assert "__MACOSX" not in warning
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "pics").exists()  # nothing extracted


def test_zip_strict_names_the_traversal_member(tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ok.png", GOOD["a/rgb.png"][0])
        zf.writestr("x/../../escape.png", GOOD["a/rgb.png"][0])
    with pytest.raises(data.DataError, match=r"evil\.zip:x/\.\./\.\./escape\.png: '\.\.' component"):
        data.load("images", data_dir=path, strict=True)


def test_not_a_zip(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK\x03\x04 but then nothing sensible")
    with pytest.raises(data.DataError):
        data.load("images", data_dir=fake)


def test_decompression_bombs_are_not_decoded(tmp_path, caplog):
    root = tmp_path / "bombs"
    root.mkdir()
    (root / "ok.png").write_bytes(GOOD["a/rgb.png"][0])
    (root / "huge.png").write_bytes(_fake_png_header(100_000, 100_000))  # PIL refuses it outright
    (root / "big.png").write_bytes(_fake_png_header(9_000, 6_000))  # 54 Mpx: over our 50 Mpx cap
    with caplog.at_level(logging.WARNING):
        ds, info = data.load("images", data_dir=root, image_size=8, return_info=True)
    assert info.num_examples == 1
    warning = "\n".join(r.getMessage() for r in caplog.records)
    assert "big.png: PNG header claims 9000x6000 = 54,000,000 pixels, more than the cap" in warning
    assert "huge.png: PNG header claims too many pixels" in warning


def test_zip_member_size_cap(tmp_path, monkeypatch):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok.png", GOOD["a/rgb.png"][0])
        zf.writestr("zeros.png", b"\0" * 3_000_000)  # compresses to a few KiB
    monkeypatch.setattr(archive, "MAX_FILE_BYTES", 1_000_000)
    with pytest.raises(data.DataError, match=r"zeros\.png: declares 3,000,000 bytes uncompressed, more than the "
                                              r"1,000,000-byte cap"):
        data.load("images", data_dir=path, strict=True)
    with zipfile.ZipFile(path) as zf:  # a lying header cannot make us read more than the cap
        with pytest.raises(ValueError, match="more than 1,000 bytes"):
            archive.read_member(zf, "zeros.png", cap=1000)


def test_file_that_only_tensorflow_rejects(tmp_path, caplog, cache_mode, monkeypatch):
    """A PNG with a damaged data chunk but an intact end passes the cheap check; it must be skipped (and
    named, when decoded into memory) without stopping the pipeline."""
    root = tmp_path / "sneaky"
    root.mkdir()
    for i in range(3):
        (root / f"ok{i}.png").write_bytes(GOOD["a/rgb.png"][0])
    (root / "bad.png").write_bytes(_corrupt_png_data(_png(np.random.default_rng(1).integers(
        0, 256, (32, 32, 3), dtype=np.uint8))))
    with caplog.at_level(logging.WARNING):
        ds, info = data.load("images", data_dir=root, image_size=8, return_info=True)
        x = _array(ds)
    assert x.shape == (3, 8, 8, 3)
    if cache_mode == "memory":
        assert info.num_examples == 3
        assert "bad.png: cannot be decoded by TensorFlow" in "\n".join(r.getMessage() for r in caplog.records)
        with pytest.raises(data.DataError, match=r"bad\.png: cannot be decoded by TensorFlow"):
            data.load("images", data_dir=root, strict=True)
    else:
        assert info.num_examples == 4  # found only at run time; the epoch still comes out full:
        batches, steps = data.training_batches(ds, 2, num_examples=4, seed=0, num_epochs=2)
        assert steps == 2 and [b.shape for b in batches.as_numpy_iterator()] == [(2, 8, 8, 3)] * 4


# ----- CelebA -------------------------------------------------------------------------------------

def _celeba_image():
    """218x178: the centred 108x108 box (rows 55-162, cols 35-142) in one colour, the rest in another."""
    image = _solid(218, 178, (10, 20, 30))
    image[55:163, 35:143] = RGB
    return image


CELEBA_NUMBERS = (1, 2, 162770, 162771, 182637, 182638, 202599)


@pytest.mark.parametrize("layout, stream", [("folder", False), ("zip_in_dir", False), ("zip_path", True),
                                            ("torchvision", False)])
def test_celeba_layouts_splits_and_crop(tmp_path, monkeypatch, layout, stream):
    if stream:  # decoded every epoch from the zip, rather than once into memory
        monkeypatch.setenv("GAN_TF_CACHE_MB", "0")
    blob = _png(_celeba_image())
    if layout in ("folder", "torchvision"):
        folder = tmp_path / ("celeba" if layout == "torchvision" else "") / "img_align_celeba"
        folder.mkdir(parents=True)
        for n in CELEBA_NUMBERS:
            (folder / f"{n:06d}.png").write_bytes(blob)
        data_dir = tmp_path
    else:
        zpath = tmp_path / "img_align_celeba.zip"
        with zipfile.ZipFile(zpath, "w") as zf:
            for n in CELEBA_NUMBERS:
                zf.writestr(f"img_align_celeba/{n:06d}.png", blob)
        data_dir = tmp_path if layout == "zip_in_dir" else zpath
    counts = {}
    for split in ("train", "validation", "test", "all"):
        ds, info = data.load("celeba", split, data_dir=data_dir, return_info=True)
        x = _array(ds)
        counts[split] = info.num_examples
        assert x.shape == (info.num_examples, 64, 64, 3) and info.image_shape == (64, 64, 3)
        # Only the centre box survives the crop: every pixel has its colour.
        np.testing.assert_allclose(x, np.broadcast_to(np.array(RGB) / 127.5 - 1, x.shape), atol=1e-6)
        assert info.source == "files" and "108x108" in info.note
    assert counts == {"train": 3, "validation": 2, "test": 2, "all": 7}


@pytest.mark.parametrize("stream", [False, True])
def test_celeba_jpegs_take_the_cropping_decoder(tmp_path, monkeypatch, stream):
    """All-JPEG folders (CelebA) decode with decode_and_crop_jpeg: same crop, up to JPEG's loss."""
    if stream:
        monkeypatch.setenv("GAN_TF_CACHE_MB", "0")
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    for n in (1, 2, 3):
        (folder / f"{n:06d}.jpg").write_bytes(_jpeg(_celeba_image(), quality=95))
    ds, info = data.load("celeba", "train", data_dir=tmp_path, return_info=True)
    x = _array(ds)
    assert x.shape == (3, 64, 64, 3) and info.num_examples == 3
    # Reference: full decode, DCGAN-tensorflow's crop as a numpy slice, antialiased resize, rounding.
    import tensorflow as tf

    full = tf.io.decode_jpeg((folder / "000001.jpg").read_bytes(), channels=3).numpy()[55:163, 35:143]
    want = np.round(tf.image.resize(full.astype(np.float32), (64, 64), antialias=True).numpy())
    np.testing.assert_allclose(x[0], np.clip(want, 0, 255) / 127.5 - 1, atol=1e-6)
    # Away from the box's edge (where JPEG's chroma bleeds) only the centre colour is left.
    np.testing.assert_allclose(x[:, 8:-8, 8:-8], np.broadcast_to(np.array(RGB) / 127.5 - 1, (3, 48, 48, 3)),
                               atol=6 / 127.5)


def test_celeba_crop_box_matches_dcgan_tensorflow():
    top, left, h, w = celeba.decode.crop_box(218, 178, (64, 64), celeba.CROP_FRACTION)
    # DCGAN-tensorflow: j = round((218 - 108) / 2), i = round((178 - 108) / 2).
    assert (int(top), int(left), int(h), int(w)) == (55, 35, 108, 108)


def test_celeba_names_outside_the_partition(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    (folder / "alice.png").write_bytes(_png(_celeba_image()))
    with pytest.raises(data.DataError, match=r"none of its 1 images is in CelebA's train split.*split='all'"):
        data.load("celeba", "train", data_dir=folder)
    assert data.load("celeba", "all", data_dir=folder, return_info=True)[1].num_examples == 1


def test_celeba_without_data_points_to_local_options(offline):
    with pytest.raises(data.DataError) as e:
        data.load("celeba")
    text = str(e.value)
    assert "files: no data_dir given" in text and "tfds:" in text and "download:" in text
    assert "img_align_celeba.zip" in text and "Google Drive" in text


def test_celeba_download_failure_mentions_quota(offline, monkeypatch):
    def quota(*args, **kwargs):
        raise data.base.SourceUnavailable("TFDS download of celeb_a failed (NonMatchingChecksumError: ...)")

    monkeypatch.setattr(network, "is_online", lambda *a, **k: (True, ""))
    monkeypatch.setattr(tfds_source, "download", quota)
    with pytest.raises(data.DataError, match=r"(?s)download: TFDS download of celeb_a failed.*quota.*"
                                              r"img_align_celeba\.zip"):
        data.load("celeba", source="download")


def test_scan_order_and_hidden_folders(tmp_path):
    for name in ("b.png", "a/c.png", ".hidden/d.png", "a/.e.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(GOOD["a/rgb.png"][0])
    scan = image_files.scan_folder(str(tmp_path))
    assert [os.path.relpath(p, tmp_path) for p in scan.names] == ["a/c.png", "b.png"] and scan.skipped == []


def test_file_vanishing_mid_run_does_not_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_TF_CACHE_MB", "0")  # decoded on the fly, so files are read every epoch
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(5):
        (root / f"{i}.png").write_bytes(GOOD["a/rgb.png"][0])
    ds, info = data.load("images", data_dir=root, image_size=8, return_info=True)
    (root / "3.png").unlink()
    assert info.num_examples == 5 and _array(ds).shape == (4, 8, 8, 3)


# ------------------------------------------------------------------ epoch order of large image sets
def _numbered_images(root, count, as_zip):
    """`count` 4x4 PNGs whose colour encodes their index in the sorted file list."""
    blobs = {f"{i:04d}.png": _png(_solid(4, 4, (i % 256, i // 256, 0))) for i in range(count)}
    if as_zip:
        with zipfile.ZipFile(root, "w") as zf:
            for name, blob in blobs.items():
                zf.writestr("pics/" + name, blob)
        return root
    root.mkdir()
    for name, blob in blobs.items():
        (root / name).write_bytes(blob)
    return root


def _file_indices(batch):
    pixels = np.round((batch[:, 0, 0, :2] + 1) * 127.5).astype(int)
    return pixels[:, 0] + 256 * pixels[:, 1]


@pytest.mark.parametrize("container", ["folder", "zip"])
def test_large_image_sets_are_read_in_a_new_permutation_each_epoch(tmp_path, monkeypatch, cache_mode, container):
    # A shuffle buffer of 16 images over 240 files read in sorted order would keep every epoch nearly
    # sequential (corr(position, file index) ≈ 0.99, as CelebA's 5,461 of 162,770 did): the file list
    # (or the cached rows) must be permuted by (seed, epoch) before decoding.
    monkeypatch.setattr(data.pipeline, "SHUFFLE_BUFFER_BYTES", 16 * 4 * 4 * 3 * 4)
    count, batch = 240, 8
    source = _numbered_images(tmp_path / ("pics.zip" if container == "zip" else "pics"), count, container == "zip")
    ds, info = data.load("images", data_dir=source, image_size=4, return_info=True)
    assert info.num_examples == count

    def orders(seed, start_epoch=0, start_step=0, num_epochs=3):
        batches, steps = data.training_batches(ds, batch, num_examples=count, seed=seed, start_epoch=start_epoch,
                                               num_epochs=num_epochs, start_step=start_step)
        return np.concatenate([_file_indices(b) for b in batches.as_numpy_iterator()]), steps

    run, steps = orders(seed=5)
    epochs = run.reshape(3, count)
    for order in epochs:
        assert sorted(order.tolist()) == list(range(count))  # a permutation: every file once
        assert abs(np.corrcoef(np.arange(count), order)[0, 1]) < 0.25  # 4 sigma of a random permutation
    assert len({tuple(order) for order in epochs}) == 3  # each epoch its own order
    assert not np.array_equal(orders(seed=6, num_epochs=1)[0], epochs[0])  # and each seed
    # The same (seed, epoch) gives the same order: a resumed run (at an epoch, or mid-epoch) reads
    # what the uninterrupted one reads.
    np.testing.assert_array_equal(orders(seed=5, start_epoch=1)[0], run[count:])
    np.testing.assert_array_equal(orders(seed=5, start_epoch=1, start_step=7)[0], run[count + 7 * batch:])


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "lots"])
def test_a_cache_size_that_is_not_a_finite_size_is_named(monkeypatch, value):
    from gan_tf.data import image_files
    from gan_tf.data.base import DataError

    monkeypatch.setenv("GAN_TF_CACHE_MB", value)
    with pytest.raises(DataError, match=f"GAN_TF_CACHE_MB='{value}'; expected a finite number of MiB >= 0"):
        image_files.cache_bytes()
    monkeypatch.setenv("GAN_TF_CACHE_MB", "1.5")
    assert image_files.cache_bytes() == 3 * 2**19
