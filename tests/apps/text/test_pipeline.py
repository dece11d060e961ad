"""Training windows: stateful streams continue row by row; random windows move."""

from __future__ import annotations

import numpy as np
import pytest

from lstmsuite.apps.text.pipeline import as_streams, random_batches, stream_batches
from lstmsuite.pipelines.config import ConfigError

IDS = np.arange(1000, dtype=np.int32)  # token i is i: positions are visible


def batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def test_stream_rows_continue_across_batches():
    ds = stream_batches(IDS, batch=4, window=10, seed=None, name="valid")
    got = batches(ds)
    rows = as_streams(IDS, 4)  # 4 streams of 250 consecutive tokens
    assert len(got) == (250 - 1) // 10 == ds.cardinality().numpy()
    for k, (x, y) in enumerate(got):
        assert x.shape == y.shape == (4, 10)
        np.testing.assert_array_equal(x, rows[:, k * 10 : k * 10 + 10])
        np.testing.assert_array_equal(y, x + 1)  # the next token
        if k:
            # Row b of batch k starts where row b of batch k - 1 stopped.
            np.testing.assert_array_equal(x[:, 0], got[k - 1][0][:, -1] + 1)


def test_training_streams_start_at_a_new_offset_every_epoch():
    ds = stream_batches(IDS, batch=4, window=10, seed=7, name="train")
    firsts = {int(batches(ds)[0][0][0, 0]) for _ in range(6)}
    assert len(firsts) > 1 and all(0 <= f < 10 for f in firsts)
    for x, y in batches(ds):
        np.testing.assert_array_equal(y, x + 1)
        assert (np.diff(x, axis=1) == 1).all()
    again = stream_batches(IDS, batch=4, window=10, seed=7, name="train")
    assert (
        batches(again)[0][0][0, 0]
        == batches(stream_batches(IDS, batch=4, window=10, seed=7, name="train"))[0][0][
            0, 0
        ]
    )


def test_random_windows():
    ds = random_batches(IDS, batch=8, window=16, seed=3, name="train")
    epoch1, epoch2 = batches(ds), batches(ds)
    assert len(epoch1) == (1000 // 16) // 8 == ds.cardinality().numpy()
    for x, y in epoch1:
        assert x.shape == (8, 16)
        np.testing.assert_array_equal(y, x + 1)
        assert (np.diff(x, axis=1) == 1).all()
    assert not np.array_equal(epoch1[0][0], epoch2[0][0])  # new windows


def test_too_short_text_is_a_config_error():
    with pytest.raises(ConfigError, match="too short.*data.batch_size=64"):
        stream_batches(IDS[:100], batch=64, window=32, seed=None, name="valid")
    with pytest.raises(ConfigError, match="too short"):
        random_batches(IDS[:20], batch=4, window=32, seed=1, name="train")
