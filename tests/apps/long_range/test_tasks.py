"""The task generators: shapes, labels, determinism, and their trivial baselines
computed the way the papers define them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from lstmsuite.apps.long_range.tasks import (
    ALPHABET,
    BLANK,
    GO,
    Parity,
    make_task,
    task_dataset,
)

SEED = tf.constant([3, 4], tf.int64)


def draw(name, length, batch=64, seed=SEED, **options):
    x, y = make_task(name, length, **options).batch(seed, batch)
    return x.numpy(), y.numpy()


def test_adding_marks_one_number_in_each_half_and_sums_them():
    x, y = draw("adding", 30)
    assert x.shape == (64, 30, 2) and y.shape == (64, 1)
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert (markers[:, :15].sum(1) == 1).all() and (markers[:, 15:].sum(1) == 1).all()
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(1), rtol=1e-6)


def test_adding_baseline_is_the_variance_of_the_sum():
    task = make_task("adding", 50)
    _, y = task.batch(SEED, 20000)
    always_one = float(np.mean((1.0 - y.numpy()) ** 2))
    assert task.baseline()["mse"] == pytest.approx(1 / 6)
    assert always_one == pytest.approx(1 / 6, abs=0.005)


def memoryless_nats(task, y):
    """Cross-entropy of the best model without memory: blank where the output
    is always blank, uniform over the 8 symbols where they are recalled."""
    k = task.symbols
    probs = np.zeros(y.shape + (10,))
    probs[:, :-k, BLANK] = 1.0
    probs[:, -k:, 1 : ALPHABET + 1] = 1 / ALPHABET
    picked = np.take_along_axis(probs, y[..., None], axis=-1)[..., 0]
    return float(-np.log(picked).mean())


def test_copy_layout_and_memoryless_baseline():
    steps = 25
    task = make_task("copy", steps)
    x, y = draw("copy", steps)
    assert x.shape == y.shape == (64, steps + 20)
    symbols = x[:, :10]
    assert ((symbols >= 1) & (symbols <= ALPHABET)).all()
    assert (x[:, 10 : steps + 9] == BLANK).all() and (x[:, steps + 9] == GO).all()
    assert (x[:, steps + 10 :] == BLANK).all()
    assert (y[:, : steps + 10] == BLANK).all() and (y[:, -10:] == symbols).all()
    baseline = task.baseline()["nats_per_step"]
    assert baseline == pytest.approx(10 * math.log(8) / (steps + 20))
    assert memoryless_nats(task, y) == pytest.approx(baseline)


def test_selective_copy_scatters_the_symbols_in_order():
    steps = 40
    task = make_task("selective_copy", steps)
    x, y = draw("selective_copy", steps)
    assert x.shape == y.shape == (64, steps + 11)
    data = x[:, :steps]
    assert ((data > 0).sum(1) == 10).all() and (x[:, steps] == GO).all()
    for row in range(len(x)):
        assert (data[row][data[row] > 0] == y[row, -10:]).all()
    assert (y[:, :-10] == BLANK).all()
    # Not all at the start: the positions are random.
    assert (data[:, 10:] > 0).any()
    assert memoryless_nats(task, y) == pytest.approx(task.baseline()["nats_per_step"])


def test_parity_labels_and_lengths():
    task = make_task("parity", 40)
    lengths = set()
    for k in range(30):
        x, y = task.batch(tf.constant([k, 1], tf.int64), 16)
        x, y = x.numpy(), y.numpy()
        assert 1 <= x.shape[1] <= 40 and set(np.unique(x)) <= {0, 1}
        np.testing.assert_array_equal(y, x.sum(1) % 2)
        lengths.add(x.shape[1])
    assert len(lengths) > 10  # lengths vary from batch to batch
    x, _ = Parity(length=256, min_length=129).batch(SEED, 4)
    assert 129 <= x.shape[1] <= 256
    x, _ = task.batch(SEED, 4, length=100)
    assert x.shape == (4, 100)
    assert task.baseline()["accuracy"] == 0.5


def test_batches_are_functions_of_their_seed():
    for name, length in (("adding", 20), ("copy", 5), ("selective_copy", 12)):
        a, b = draw(name, length), draw(name, length)
        c = draw(name, length, seed=tf.constant([3, 5], tf.int64))
        np.testing.assert_array_equal(a[0], b[0])
        assert not np.array_equal(a[0], c[0])


def test_training_batches_are_new_each_epoch_and_evaluation_batches_are_not():
    task = make_task("copy", 5)
    train = task_dataset(task, batch_size=4, batches=3, seed=1, fresh=True)
    valid = task_dataset(task, batch_size=4, batches=3, seed=1, fresh=False)
    assert train.cardinality() == 3 == valid.cardinality()

    def epoch(ds):
        return np.concatenate([x.numpy() for x, _ in ds])

    assert not np.array_equal(epoch(train), epoch(train))
    np.testing.assert_array_equal(epoch(valid), epoch(valid))
    batches = [x.numpy() for x, _ in valid]
    assert not np.array_equal(batches[0], batches[1])


def test_bad_tasks_are_named():
    with pytest.raises(ValueError, match="unknown task 'adder'"):
        make_task("adder", 10)
    with pytest.raises(ValueError, match="at least 10"):
        make_task("selective_copy", 5)
    with pytest.raises(ValueError, match="at least 2"):
        make_task("adding", 1)
