"""The shared input pipeline: pixels to [-1, 1], resizing and channel conversion, and the training stream.

`training_batches` makes resumption exact: epoch `e` is shuffled with a seed derived only from
`(seed, e)`, so a run resumed at epoch `k` sees exactly the batches an uninterrupted run sees from epoch
`k` on. A dataset too large for the shuffle buffer mixes poorly there (a buffer of 5,000 over 160,000
files read in order keeps the epoch nearly sequential); sources that can produce their elements in any
order declare it with `reorderable`, and such a dataset is read in a full permutation of `(seed, e)`
instead, before anything expensive (reading, decoding) happens.
"""
import weakref

import numpy as np
import tensorflow as tf

from gan_tf.data.base import DataError

AUTOTUNE = tf.data.AUTOTUNE

# Memory the default shuffle buffer may use. Small datasets (MNIST: 60,000 x 3 KiB) get a full,
# uniform shuffle; large ones (CelebA 64x64x3 float32: 48 KiB each) a buffer of ~5,000.
SHUFFLE_BUFFER_BYTES = 256 * 2**20

# In-memory arrays whose float32 [-1, 1] version is at most this big are converted once up front.
PRECOMPUTE_BYTES = 512 * 2**20

# A fixed graph-level seed set while building each epoch's pipeline. tf.data combines an op seed with
# the graph's seed, which by default comes from TF's global seed; pinning it here makes the order a
# function of (seed, epoch) alone, whatever the caller did with tf.random.set_seed. It only affects
# the graph that traces the epoch function, not the caller's global seed (checked in the tests).
# Must be non-zero: a zero graph seed makes TF compare the symbolic op seed to 0 in Python.
_EPOCH_GRAPH_SEED = 0x6A4E5EED


# dataset -> (count, build): `build(order)` gives the dataset's elements in the order of `order`.
_REORDERABLE = weakref.WeakKeyDictionary()


def reorderable(dataset, count, build):
    """Declares that `build(order)` gives the `count` elements of `dataset` in any order.

    Args:
      dataset: the dataset, its elements in their natural order (what `load` returns).
      count: its number of elements.
      build: `order` (an int64 vector, a permutation of `range(count)`) -> a dataset of the same
        elements in that order; it must be cheap to call (reading and decoding happen when iterated).

    Returns:
      `dataset` itself. A transformation of it (`map`, ...) is an ordinary dataset again.
    """
    _REORDERABLE[dataset] = (int(count), build)
    return dataset


def epoch_order(seed, epoch, count):
    """The permutation of `range(count)` in which epoch `epoch` of run `seed` reads a reorderable
    dataset: a stateless function of `(seed, epoch)` alone (works on tensors)."""
    return tf.random.experimental.stateless_shuffle(
        tf.range(count, dtype=tf.int64), seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)]))


def scale_to_unit_range(images):
    """Maps pixel values in [0, 255] to [-1, 1] as float32: 0 -> -1, 255 -> 1 (exactly).

    Args:
      images: uint8 or float tensor of pixel values in [0, 255].
    """
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def convert(images, image_size=None, channels=None):
    """Resizes (antialiased bilinear) and converts channels; returns float32 pixels in [0, 255].

    Works on one image (H, W, C) or a batch (N, H, W, C).

    Args:
      images: uint8 or float tensor in [0, 255].
      image_size: `(height, width)` to resize to, or None to keep the size.
      channels: 1 or 3, or None to keep. Grayscale -> RGB repeats the channel; RGB -> grayscale uses
        ITU-R 601 luma (tf.image.rgb_to_grayscale).
    """
    x = tf.cast(images, tf.float32)
    have = x.shape[-1]
    if channels is not None and have != channels:
        if have == 1 and channels == 3:
            x = tf.image.grayscale_to_rgb(x)
        elif have in (3, 4) and channels == 1:
            x = tf.image.rgb_to_grayscale(x[..., :3])
        elif have == 4 and channels == 3:
            x = x[..., :3]
        else:
            raise DataError(f"cannot convert {have} channels to channels={channels}; expected 1 or 3")
    if image_size is not None and tuple(x.shape[-3:-1]) != tuple(image_size):
        x = tf.image.resize(x, image_size, method="bilinear", antialias=True)
        # Antialiased bilinear weights are convex, but float rounding may step outside by an ulp.
        x = tf.clip_by_value(x, 0.0, 255.0)
    return x


def from_arrays(images, labels=None, image_size=None, channels=None):
    """An unbatched dataset of float32 images in [-1, 1] (with int32 labels if given) from uint8 arrays.

    Up to `PRECOMPUTE_BYTES` of float32 output, the images are converted once, in chunks, and the
    dataset slices the finished array: each epoch's shuffle buffer then fills by slicing alone
    (Fashion-MNIST's 60,000 images: ~190 MB). Larger arrays stay uint8 in memory (the cache of decoded
    images) and are converted per element, in parallel.

    Args:
      images: uint8 array (N, H, W, C).
      labels: int array (N,) or None.
      image_size: `(height, width)` or None to keep.
      channels: 1 or 3 or None to keep.
    """
    images = np.asarray(images)
    out_size = tuple(image_size or images.shape[1:3])
    out_bytes = len(images) * int(np.prod(out_size)) * (channels or images.shape[-1]) * 4

    def prepare(x):
        return scale_to_unit_range(convert(x, image_size, channels))

    if out_bytes <= PRECOMPUTE_BYTES:
        converted = np.empty((len(images),) + out_size + (channels or images.shape[-1],), np.float32)
        for start in range(0, len(images), 8192):
            converted[start:start + 8192] = prepare(images[start:start + 8192]).numpy()
        images, prepare = converted, None
    return _slices(images, None if labels is None else np.asarray(labels, dtype=np.int32), prepare)


def _slices(images, labels, prepare):
    """The elements of in-memory arrays (through `prepare` if given), declared `reorderable`: a
    permuted epoch gathers rows by index, without a copy of the arrays."""
    arrays = tuple(tf.convert_to_tensor(a) for a in (images, labels) if a is not None)

    def finish(dataset):
        if prepare is None:
            return dataset
        if labels is None:
            return dataset.map(prepare, num_parallel_calls=AUTOTUNE)
        return dataset.map(lambda x, y: (prepare(x), y), num_parallel_calls=AUTOTUNE)

    def build(order):
        rows = tf.data.Dataset.from_tensor_slices(order).batch(256).map(
            lambda index: tuple(tf.gather(a, index) for a in arrays) if labels is not None
            else tf.gather(arrays[0], index))
        return finish(rows.unbatch())

    dataset = finish(tf.data.Dataset.from_tensor_slices(arrays if labels is not None else arrays[0]))
    return reorderable(dataset, len(images), build)


def _check_positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise DataError(f"{name}={value!r}; expected a positive integer")


def _example_bytes(dataset):
    spec = dataset.element_spec
    spec = spec[0] if isinstance(spec, tuple) else spec
    if not spec.shape.is_fully_defined():
        return None
    return int(np.prod(spec.shape)) * spec.dtype.size


def default_shuffle_buffer(dataset, num_examples):
    """All examples when they fit in `SHUFFLE_BUFFER_BYTES` (a uniform shuffle), else as many as fit."""
    size = _example_bytes(dataset)
    if size is None:
        return min(num_examples, 10_000)
    return max(1, min(num_examples, SHUFFLE_BUFFER_BYTES // size))


def epoch_seed(seed, epoch):
    """The int64 shuffle seed of `epoch`: a stateless hash of `(seed, epoch)` (works on tensors)."""
    return tf.random.stateless_uniform(
        [], seed=tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)]),
        minval=1, maxval=2**31 - 1, dtype=tf.int64,
    )


def training_batches(dataset, batch_size, *, num_examples, seed, start_epoch=0, num_epochs,
                     steps_per_epoch=None, shuffle_buffer=None, start_step=0):
    """The stream of training batches for `model.fit`, reproducible epoch by epoch.

    Feed it as `model.fit(batches, epochs=num_epochs, initial_epoch=start_epoch, steps_per_epoch=steps,
    shuffle=False)`: with `steps_per_epoch` Keras keeps one iterator across epochs, and this stream holds
    exactly `(num_epochs - start_epoch) * steps` batches, epoch after epoch. Without `steps_per_epoch`
    Keras would restart the stream every epoch.

    Epoch `e` is `dataset` shuffled with a seed that depends only on `(seed, e)`, batched with
    `drop_remainder=True` and cut to `steps` batches; so resuming at `start_epoch=k` reproduces an
    uninterrupted run's batches from epoch `k` on, and `start_step=s` on top continues from batch `s` of
    epoch `k` (a run stopped mid-epoch, e.g. by its time budget). If elements go missing at run time (an unreadable file
    skipped by the loader), the epoch continues into a reshuffled second pass instead of coming up short.

    Args:
      dataset: unbatched dataset (as returned by `load`).
      batch_size: global batch size.
      num_examples: number of elements of `dataset` (`DataInfo.num_examples`).
      seed: integer seed of the whole run.
      start_epoch: first epoch to produce (the epoch a resumed run starts at).
      num_epochs: epoch index to stop before (Keras `epochs`).
      steps_per_epoch: optional cap on batches per epoch.
      shuffle_buffer: elements in the shuffle buffer; default: all of them if they fit in 256 MiB. A
        dataset declared `reorderable` whose examples do not all fit is read in a permutation of
        `(seed, epoch)` instead (no buffer).
      start_step: batches of `start_epoch` already trained (0 <= start_step < steps); the stream
        then holds `(num_epochs - start_epoch) * steps - start_step` batches.

    Returns:
      `(batches, steps)`: the batched, prefetched dataset and the number of batches per (full) epoch,
      `min(steps_per_epoch or inf, num_examples // batch_size)`.

    Raises:
      DataError: on non-positive sizes, `start_epoch > num_epochs`, or fewer examples than one batch.
    """
    _check_positive_int("batch_size", batch_size)
    _check_positive_int("num_examples", num_examples)
    _check_positive_int("steps_per_epoch", steps_per_epoch, allow_none=True)
    _check_positive_int("shuffle_buffer", shuffle_buffer, allow_none=True)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise DataError(f"seed={seed!r}; expected an integer")
    if isinstance(start_epoch, bool) or not isinstance(start_epoch, (int, np.integer)) or start_epoch < 0:
        raise DataError(f"start_epoch={start_epoch!r}; expected an integer >= 0")
    if isinstance(num_epochs, bool) or not isinstance(num_epochs, (int, np.integer)) or num_epochs < start_epoch:
        raise DataError(f"num_epochs={num_epochs!r}; expected an integer >= start_epoch ({start_epoch})")
    if num_examples < batch_size:
        raise DataError(
            f"the dataset has {num_examples} examples, fewer than one batch of batch_size={batch_size}; "
            "use a smaller batch size or more data"
        )
    steps = num_examples // batch_size
    if steps_per_epoch is not None:
        steps = min(steps, int(steps_per_epoch))
    if (isinstance(start_step, bool) or not isinstance(start_step, (int, np.integer))
            or not 0 <= start_step < max(steps, 1) or (start_step and start_epoch >= num_epochs)):
        raise DataError(f"start_step={start_step!r}; expected an integer in [0, {steps}) inside an epoch to train")
    buffer = int(shuffle_buffer) if shuffle_buffer else default_shuffle_buffer(dataset, num_examples)
    run_seed = tf.constant(int(seed), tf.int64)
    # A buffer that holds every example shuffles uniformly (and keeps the orders of recorded runs);
    # a smaller one over a reorderable dataset gives way to a full permutation of its elements.
    reorder = _REORDERABLE.get(dataset) if buffer < num_examples else None

    def one_epoch(epoch):
        tf.random.set_seed(_EPOCH_GRAPH_SEED)  # graph-level only: we are tracing, not executing eagerly
        if reorder is not None:
            count, build = reorder
            shuffled = build(epoch_order(run_seed, epoch, count))
        else:
            shuffled = dataset.shuffle(buffer, seed=epoch_seed(run_seed, epoch), reshuffle_each_iteration=True)
        # repeat(): a safety net only. The first pass holds >= steps * batch_size elements unless some
        # went missing at run time; then the epoch goes on into a second (reshuffled) pass.
        return shuffled.repeat().batch(batch_size, drop_remainder=True).take(steps)

    total = (int(num_epochs) - int(start_epoch)) * steps - int(start_step)
    batches = (
        tf.data.Dataset.range(int(start_epoch), int(num_epochs))
        .flat_map(one_epoch)
        # The skipped batches are rebuilt (not trained on): the rest of the epoch is then exactly
        # the uninterrupted run's.
        .skip(int(start_step))
        .apply(tf.data.experimental.assert_cardinality(total))
        .prefetch(AUTOTUNE)
    )
    return batches, steps

