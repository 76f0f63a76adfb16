"""CelebA (Liu, Luo, Wang and Tang, 2015): 202,599 aligned celebrity faces, 178x218 RGB.

Sources, in the order `auto` tries them:

- "files": `data_dir` holding the aligned images: the folder `img_align_celeba/` (as extracted, also
  under `celeba/` as torchvision lays it out), the archive `img_align_celeba.zip` read in place without
  extracting it, a path to that .zip itself, or any folder of the numbered JPEGs.
- "tfds": TFDS `celeb_a` already prepared.
- "download": TFDS `celeb_a`, only when the network answers. Its files live on Google Drive, whose
  download quota is often exhausted: the download then fails, and the local options above remain.

Splits follow the official partition (list_eval_partition.txt), which is by file number:
train = 000001-162770 (162,770 images), validation = 162771-182637 (19,867), test = 182638-202599
(19,962); "all" is every image (for a folder of other faces, whatever the file names).

Preprocessing, as in DCGAN-tensorflow (carpedm20; `--input_height=108 --crop`) and much GAN code since: a
centred 108x108 crop (rows 55-162, columns 35-142 of the 218x178 image), then an antialiased resize to
64x64 and scaling to [-1, 1]. The aligned images put the eyes at a fixed place near the centre, so this
box holds the face from eyebrows to chin and drops most hair and background: the 64x64 pixels are spent
on the face, which is what CelebA GAN results are usually shown on. Images of another size get the same
crop in proportion (108/178 of the shorter side).
"""
import os

from gan_tf.choices import DATA_SOURCES
from gan_tf.data import decode, image_files, images, pipeline, tfds_source
from gan_tf.data.base import DataError, Loaded, SourceUnavailable

NAME = "celeba"
SOURCES = DATA_SOURCES[NAME]  # declared in gan_tf.choices, for flag checks without TensorFlow
SPLITS = ("train", "validation", "test", "all")
HAS_LABELS = False
NUM_CLASSES = None
DEFAULT_IMAGE_SIZE = (64, 64)
DEFAULT_CHANNELS = 3
ALIGNED_SIZE = (218, 178)  # height, width of img_align_celeba
CROP_SIZE = 108
CROP_FRACTION = CROP_SIZE / ALIGNED_SIZE[1]
PARTITION = {"train": (1, 162770), "validation": (162771, 182637), "test": (182638, 202599)}
TFDS_NAME = "celeb_a"
TFDS_SPLIT = {"train": "train", "validation": "validation", "test": "test", "all": "train+validation+test"}
PROBE_HOST = "drive.google.com"
QUOTA_HINT = (
    "CelebA's TFDS download comes from Google Drive, whose daily quota is often exhausted; download "
    "img_align_celeba.zip yourself (CelebA's page links Google Drive and Baidu mirrors) and pass "
    "--data_dir PATH/img_align_celeba.zip (read in place, no need to extract) or the extracted folder"
)
HOW_TO = (
    "pass --data_dir pointing at img_align_celeba.zip, at the folder that holds it or the extracted "
    "img_align_celeba/ folder, or at a folder of face images (use split 'all' for images not named like "
    "CelebA's 000001.jpg); or prepare TFDS celeb_a. " + QUOTA_HINT
)


def split_selector(split):
    """Predicate on a file name: is it in `split` of the official partition (by its number)?"""
    if split == "all":
        return lambda name: True
    low, high = PARTITION[split]

    def select(name):
        stem = os.path.splitext(os.path.basename(name))[0]
        return stem.isdigit() and low <= int(stem) <= high

    return select


def locate(data_dir):
    """The folder or zip inside `data_dir` that holds the images (see the module docstring)."""
    if os.path.isfile(data_dir):
        return data_dir
    for relative in ("img_align_celeba", os.path.join("celeba", "img_align_celeba")):
        if os.path.isdir(os.path.join(data_dir, relative)):
            return os.path.join(data_dir, relative)
    for relative in ("img_align_celeba.zip", os.path.join("celeba", "img_align_celeba.zip")):
        if os.path.isfile(os.path.join(data_dir, relative)):
            return os.path.join(data_dir, relative)
    return data_dir


def _load_files(split, data_dir, image_size, channels, strict):
    if data_dir is None:
        raise SourceUnavailable("no data_dir given")
    where = locate(data_dir)
    found = images.scan(where, strict, select=split_selector(split))
    if not found.names and not found.skipped:
        everything = images.scan(where, strict=False)
        if everything.names:
            raise DataError(
                f"{where}: none of its {len(everything.names)} images is in CelebA's {split} split, which is "
                f"chosen by file number ({PARTITION.get(split, '')}: 000001.jpg, ...); use split='all' for "
                "images named otherwise")
        raise SourceUnavailable(f"no images in {where}")
    kind = "zip archive (read in place)" if found.kind == "zip" else "folder"
    note = (f"CelebA {split} from the {kind} {where}; centre {CROP_SIZE}x{CROP_SIZE} crop (of 178x218), "
            f"resized to {image_size[0]}x{image_size[1]}x{channels}")
    return image_files.to_loaded(found, image_size, channels, CROP_FRACTION, strict, note, NAME)


def _from_tfds(loaded, image_size, channels):
    ds, num_examples, note = loaded

    def prepare(example):
        image = decode.crop_and_resize(example["image"], image_size, channels, CROP_FRACTION)
        return pipeline.scale_to_unit_range(image)

    ds = ds.map(prepare, num_parallel_calls=pipeline.AUTOTUNE)
    note += f"; centre {CROP_SIZE}x{CROP_SIZE} crop, resized to {image_size[0]}x{image_size[1]}x{channels}"
    return Loaded(dataset=ds, num_examples=num_examples, image_shape=tuple(image_size) + (channels,),
                  num_classes=None, note=note, has_labels=False)


def load_source(source, split, data_dir, image_size, channels, strict):
    """Loads `split` from one named source. Returns `Loaded`; raises SourceUnavailable or DataError."""
    if source == "files":
        return _load_files(split, data_dir, image_size, channels, strict)
    if source == "tfds":
        return _from_tfds(tfds_source.load_prepared(TFDS_NAME, TFDS_SPLIT[split], data_dir), image_size, channels)
    if source == "download":
        try:
            loaded = tfds_source.download(TFDS_NAME, TFDS_SPLIT[split], data_dir, PROBE_HOST)
        except SourceUnavailable as e:
            if "network unavailable" in str(e):
                raise
            raise SourceUnavailable(f"{e}. {QUOTA_HINT}") from e
        return _from_tfds(loaded, image_size, channels)
    raise AssertionError(source)
