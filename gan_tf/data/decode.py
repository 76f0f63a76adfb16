"""Image decoding for the folder, zip and TFDS CelebA sources: decode, centre-crop, resize, uint8.

The crop is the centred box with the target's aspect ratio, `crop_fraction` times the largest such box
(1.0 for a user's folder: as much of the image as fits; 108/178 for CelebA, see celeba.py). JPEGs are
decoded with `decode_and_crop_jpeg`, which skips the part outside the box. Every image is decoded to RGB
(grayscale repeated, alpha dropped, CMYK converted), then resized with antialiasing and converted to the
requested channels. The result is rounded to uint8, so that an image is the same whether it was kept
in memory (decoded once) or decoded again every epoch.
"""
import tensorflow as tf

from gan_tf.data import pipeline


def crop_box(height, width, image_size, crop_fraction):
    """The centred crop `(top, left, crop_height, crop_width)` as int32 tensors.

    Args:
      height, width: image size (int32 tensors).
      image_size: `(target_height, target_width)`; the box has this aspect ratio.
      crop_fraction: side of the box relative to the largest box of that aspect ratio.
    """
    target_h, target_w = image_size
    h = tf.cast(height, tf.float32)
    w = tf.cast(width, tf.float32)
    # Largest box of aspect target_h:target_w inside (h, w), then scaled by crop_fraction.
    scale = tf.minimum(h / target_h, w / target_w) * crop_fraction
    crop_h = tf.clip_by_value(tf.cast(tf.round(target_h * scale), tf.int32), 1, height)
    crop_w = tf.clip_by_value(tf.cast(tf.round(target_w * scale), tf.int32), 1, width)
    top = (height - crop_h) // 2
    left = (width - crop_w) // 2
    return top, left, crop_h, crop_w


def crop_and_resize(image, image_size, channels, crop_fraction):
    """Centre-crops a decoded uint8 RGB image (H, W, 3), resizes it and converts channels; uint8 out."""
    shape = tf.shape(image)
    top, left, crop_h, crop_w = crop_box(shape[0], shape[1], image_size, crop_fraction)
    image = tf.image.crop_to_bounding_box(image, top, left, crop_h, crop_w)
    return _finish(image, image_size, channels)


def _finish(image, image_size, channels):
    image = tf.ensure_shape(image, [None, None, 3])
    x = pipeline.convert(image, None, channels)
    x = tf.image.resize(x, image_size, method="bilinear", antialias=True)
    x = tf.clip_by_value(tf.round(x), 0.0, 255.0)
    return tf.cast(x, tf.uint8)


def decode(contents, image_size, channels, crop_fraction=1.0, formats=None):
    """Decodes encoded image bytes to a uint8 image of shape `image_size + (channels,)`.

    Args:
      contents: scalar string tensor (JPEG, PNG, GIF, BMP or WebP bytes).
      image_size: `(height, width)`.
      channels: 1 or 3.
      crop_fraction: see `crop_box`.
      formats: the set of formats the files were found to have, when known; with only JPEGs (CelebA)
        the per-image format test is left out of the graph.
    """
    def jpeg():
        shape = tf.io.extract_jpeg_shape(contents)
        top, left, crop_h, crop_w = crop_box(shape[0], shape[1], image_size, crop_fraction)
        window = tf.stack([top, left, crop_h, crop_w])
        image = tf.io.decode_and_crop_jpeg(contents, window, channels=3)
        return _finish(image, image_size, channels)

    def other():
        image = tf.io.decode_image(contents, channels=3, expand_animations=False, dtype=tf.uint8)
        return crop_and_resize(image, image_size, channels, crop_fraction)

    if formats is not None and set(formats) == {"JPEG"}:
        image = jpeg()
    elif formats is not None and "JPEG" not in formats:
        image = other()
    else:
        image = tf.cond(tf.io.is_jpeg(contents), jpeg, other)
    return tf.ensure_shape(image, tuple(image_size) + (channels,))
