"""tf.data stages: next-step targets, padding weights, seeded determinism, bucketing."""

import numpy as np

from lstmsuite.pipelines.config import DataConfig
from lstmsuite.pipelines.data import count_batches, from_sequences, sequence_pipeline


def sequences(n=10, features=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random((int(rng.integers(3, 15)), features)) for _ in range(n)]


def as_lists(ds):
    return [[t.numpy() for t in batch] for batch in ds]


def test_from_sequences_keeps_each_sequence():
    seqs = sequences()
    got = [x.numpy() for x in from_sequences(seqs)]
    assert len(got) == len(seqs)
    for a, b in zip(got, seqs):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_next_step_batches_with_zero_weight_padding():
    seqs = sequences(5)
    cfg = DataConfig(source="x", batch_size=5, max_length=None)
    ((x, y, w),) = as_lists(sequence_pipeline(seqs, cfg, training=False, seed=0))
    longest = max(len(s) for s in seqs) - 1
    assert x.shape == (5, longest, 3) and y.shape == x.shape and w.shape == (5, longest)
    for i, s in enumerate(seqs):
        n = len(s) - 1
        np.testing.assert_allclose(x[i, :n], s[:-1], rtol=1e-6)
        np.testing.assert_allclose(y[i, :n], s[1:], rtol=1e-6)
        assert w[i, :n].tolist() == [1.0] * n and not w[i, n:].any()


def test_training_pipeline_is_seeded_and_reshuffles_each_epoch():
    seqs = sequences(20)
    cfg = DataConfig(source="x", batch_size=4, max_length=6)
    a = sequence_pipeline(seqs, cfg, training=True, seed=7)
    b = sequence_pipeline(seqs, cfg, training=True, seed=7)
    c = sequence_pipeline(seqs, cfg, training=True, seed=8)
    epoch1, epoch2 = as_lists(a), as_lists(a)
    same = as_lists(b)
    for u, v in zip(epoch1, same):
        for s, t in zip(u, v):
            np.testing.assert_array_equal(s, t)
    assert any(
        u[0].shape != v[0].shape or not np.array_equal(u[0], v[0])
        for u, v in zip(epoch1, epoch2)
    )
    assert any(
        u[0].shape != v[0].shape or not np.array_equal(u[0], v[0])
        for u, v in zip(epoch1, as_lists(c))
    )
    # Random crops: windows of at most max_length frames -> max_length - 1 steps.
    assert max(batch[0].shape[1] for batch in epoch1) <= 5
    assert count_batches(a) == 5


def test_bucketing_groups_similar_lengths():
    seqs = [np.ones((n, 2)) for n in [3, 20, 4, 21, 3, 22, 4, 20]]
    cfg = DataConfig(source="x", batch_size=2, bucket_boundaries=[10])
    batches = as_lists(sequence_pipeline(seqs, cfg, training=True, seed=0))
    for _, _, w in batches:
        lengths = w.sum(axis=1)
        assert (lengths < 9).all() or (lengths >= 9).all()
    assert sum(len(x) for x, _, _ in batches) == len(seqs)
