"""`training_batches`: exact batch counts, epoch order a function of (seed, epoch) only, exact resume."""
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import data


def _ids(n):
    return tf.data.Dataset.range(n)


def _epochs(batches, steps):
    """The stream as a list of epochs, each a list of batches (numpy arrays)."""
    got = [b for b in batches.as_numpy_iterator()]
    assert len(got) % steps == 0
    return [got[i:i + steps] for i in range(0, len(got), steps)]


def test_counts_and_drop_remainder():
    batches, steps = data.training_batches(_ids(50), 8, num_examples=50, seed=0, num_epochs=3)
    assert steps == 50 // 8 == 6
    got = list(batches.as_numpy_iterator())
    assert len(got) == 3 * 6 and all(b.shape == (8,) for b in got)
    assert int(batches.cardinality()) == 18
    for epoch in _epochs(batches, steps):
        ids = np.concatenate(epoch)
        assert len(set(ids.tolist())) == 48 and set(ids.tolist()) <= set(range(50))  # no repeats in an epoch


def test_steps_per_epoch_caps():
    batches, steps = data.training_batches(_ids(50), 8, num_examples=50, seed=0, num_epochs=2, steps_per_epoch=2)
    assert steps == 2 and len(list(batches)) == 4
    _, steps = data.training_batches(_ids(50), 8, num_examples=50, seed=0, num_epochs=2, steps_per_epoch=100)
    assert steps == 6


def test_resume_reproduces_the_tail_and_epochs_differ():
    full, steps = data.training_batches(_ids(40), 4, num_examples=40, seed=7, num_epochs=5)
    tail, _ = data.training_batches(_ids(40), 4, num_examples=40, seed=7, start_epoch=2, num_epochs=5)
    full_epochs = _epochs(full, steps)
    tail_epochs = _epochs(tail, steps)
    assert len(tail_epochs) == 3
    for a, b in zip(full_epochs[2:], tail_epochs):
        np.testing.assert_array_equal(np.stack(a), np.stack(b))
    orders = [np.concatenate(e).tolist() for e in full_epochs]
    assert len({tuple(o) for o in orders}) == 5  # every epoch has its own order
    assert orders[0] != sorted(orders[0])  # and it is shuffled
    other, _ = data.training_batches(_ids(40), 4, num_examples=40, seed=8, num_epochs=5)
    assert np.concatenate(_epochs(other, steps)[0]).tolist() != orders[0]


def test_order_ignores_and_keeps_the_global_seed():
    """Order depends on (seed, epoch) only, not on tf.random.set_seed; and the caller's global seed
    stream is left untouched."""
    tf.random.set_seed(1)
    reference = tf.random.uniform([3]).numpy()
    tf.random.set_seed(1)
    a, steps = data.training_batches(_ids(30), 5, num_examples=30, seed=3, num_epochs=2)
    a = np.stack(list(a.as_numpy_iterator()))
    after = tf.random.uniform([3]).numpy()
    np.testing.assert_array_equal(after, reference)
    tf.random.set_seed(999)
    b, _ = data.training_batches(_ids(30), 5, num_examples=30, seed=3, num_epochs=2)
    np.testing.assert_array_equal(a, np.stack(list(b.as_numpy_iterator())))


def test_small_shuffle_buffer_is_still_deterministic():
    a, _ = data.training_batches(_ids(100), 10, num_examples=100, seed=1, num_epochs=3, shuffle_buffer=7)
    b, _ = data.training_batches(_ids(100), 10, num_examples=100, seed=1, start_epoch=1, num_epochs=3,
                                 shuffle_buffer=7)
    np.testing.assert_array_equal(np.stack(list(a.as_numpy_iterator()))[10:], np.stack(list(b.as_numpy_iterator())))


def test_missing_elements_do_not_shorten_an_epoch():
    # The loader claims 20 examples but one went missing at run time (an unreadable file skipped).
    batches, steps = data.training_batches(_ids(19), 5, num_examples=20, seed=0, num_epochs=2)
    got = list(batches.as_numpy_iterator())
    assert steps == 4 and len(got) == 8 and all(len(b) == 5 for b in got)


def test_too_few_examples_names_both_numbers():
    with pytest.raises(data.DataError, match=r"the dataset has 10 examples, fewer than one batch of batch_size=64"):
        data.training_batches(_ids(10), 64, num_examples=10, seed=0, num_epochs=1)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(batch_size=0), r"batch_size=0; expected a positive integer"),
    (dict(num_examples=-3), r"num_examples=-3"),
    (dict(steps_per_epoch=0), r"steps_per_epoch=0"),
    (dict(start_epoch=3, num_epochs=2), r"num_epochs=2; expected an integer >= start_epoch \(3\)"),
    (dict(seed=1.5), r"seed=1.5; expected an integer"),
])
def test_bad_arguments(kwargs, pattern):
    args = dict(batch_size=4, num_examples=20, seed=0, num_epochs=2)
    args.update(kwargs)
    batch_size = args.pop("batch_size")
    with pytest.raises(data.DataError, match=pattern):
        data.training_batches(_ids(20), batch_size, **args)


def test_keras_fit_consumes_exactly_the_stream():
    """With steps_per_epoch, Keras 3 keeps one iterator across epochs: fit must see every batch of the
    stream once, in order, and no more (checked by summing the ids the model was fed)."""
    import keras

    class Recorder(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)
            self.fed = tf.Variable(tf.zeros([0], tf.int64), shape=[None], trainable=False)

        def call(self, x):
            return self.dense(x)

        def train_step(self, batch):
            self.fed.assign(tf.concat([self.fed, batch], 0))
            return {"fed": tf.size(self.fed)}

    for start in (0, 1):
        batches, steps = data.training_batches(_ids(30), 4, num_examples=30, seed=5, start_epoch=start,
                                               num_epochs=3)
        expected = np.concatenate(list(batches.as_numpy_iterator()))
        model = Recorder()
        model.compile()
        history = model.fit(batches, epochs=3, initial_epoch=start, steps_per_epoch=steps, shuffle=False,
                            verbose=0)
        assert history.epoch == list(range(start, 3))
        np.testing.assert_array_equal(model.fed.numpy(), expected)
        assert len(expected) == (3 - start) * steps * 4
