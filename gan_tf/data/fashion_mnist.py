"""Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 28x28 grayscale clothing images, 10 classes.

Sources, in the order `auto` tries them: "files" (the four IDX files or a .npz in `data_dir`; without
`data_dir`, where Debian's `dataset-fashion-mnist` package installs them, /usr/share/datasets/fashion-mnist,
then the keras.datasets cache), "tfds" (prepared) and "download" (TFDS then keras.datasets, only if the
network answers).
"""
import os

from gan_tf.choices import DATA_SOURCES
from gan_tf.data import idx_dataset
from gan_tf.data.idx_dataset import IMAGE_SHAPE, NUM_CLASSES, SPLITS  # noqa: F401 (re-exported)

NAME = "fashion_mnist"
SOURCES = DATA_SOURCES[NAME]  # declared in gan_tf.choices, for flag checks without TensorFlow
HAS_LABELS = True
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")
HOW_TO = (
    "install Debian's package (`apt-get install dataset-fashion-mnist`, found automatically in "
    f"{DEBIAN_DIR}); or put the four IDX files (train-images-idx3-ubyte.gz, ...) or a .npz with "
    "x_train/y_train/x_test/y_test into a folder and pass it as data_dir (--data_dir); "
    "or prepare TFDS fashion_mnist on a machine with network and copy ~/tensorflow_datasets"
)


def _default_dirs():
    return [(DEBIAN_DIR, f"{DEBIAN_DIR} (Debian package dataset-fashion-mnist)"),
            (os.path.join(idx_dataset.keras_home(), "datasets", "fashion-mnist"), "the keras.datasets cache")]


SPEC = idx_dataset.IdxDatasetSpec(
    name=NAME, title="Fashion-MNIST", tfds_name="fashion_mnist", keras_name="fashion_mnist",
    npz_names=("fashion_mnist.npz", "fashion-mnist.npz"),
    subdirs=("fashion_mnist", "fashion-mnist", os.path.join("FashionMNIST", "raw")),
    default_dirs=_default_dirs,
)


def load_source(source, split, data_dir, image_size, channels, strict):
    """Loads `split` from one named source. Returns `Loaded`; raises SourceUnavailable or DataError."""
    del strict  # arrays are validated in full when read
    images, labels, note = idx_dataset.load_source(SPEC, source, split, data_dir)
    return idx_dataset.to_loaded(images, labels, note, image_size, channels)
