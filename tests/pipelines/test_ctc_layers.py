"""The shared CTC layers: which steps the length masks keep, on any step axis,
and that they survive a save and load."""

import keras
import numpy as np
import pytest

from lstmsuite.pipelines.ctc import LengthMask, ZeroBeyondLength


def test_length_mask_counts_frames_after_downsampling():
    frames = np.zeros((2, 4, 3), "float32")
    mask = LengthMask(stride=3)([frames, np.array([7, 2])])
    # ceil(7 / 3) = 3 and ceil(2 / 3) = 1 frames are real.
    np.testing.assert_array_equal(
        np.asarray(mask), [[True, True, True, False], [True, False, False, False]]
    )


@pytest.mark.parametrize("axis", [1, 2])
def test_zero_beyond_length_zeroes_the_padded_steps_of_its_axis(axis):
    x = np.arange(1, 2 * 3 * 5 * 2 + 1, dtype="float32").reshape(2, 3, 5, 2)
    if axis == 1:
        x = x.reshape(2, 5, 3, 2)  # steps on axis 1
    out = np.asarray(ZeroBeyondLength(stride=2, axis=axis)([x, np.array([3, 10])]))
    kept = np.moveaxis(out, axis, 1)
    original = np.moveaxis(x, axis, 1)
    # Example 0: ceil(3 / 2) = 2 steps kept; example 1: all 5.
    np.testing.assert_array_equal(kept[0, :2], original[0, :2])
    assert not kept[0, 2:].any()
    np.testing.assert_array_equal(kept[1], original[1])


def test_zero_beyond_length_round_trips_and_refuses_bad_arguments(tmp_path):
    inputs = keras.Input((None, 4)), keras.Input((), dtype="int32")
    model = keras.Model(inputs, ZeroBeyondLength(stride=2, name="zero")(list(inputs)))
    path = tmp_path / "zero.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    layer = loaded.get_layer("zero")
    assert (layer.stride, layer.axis) == (2, 1)
    x = np.ones((1, 6, 4), "float32")
    np.testing.assert_array_equal(loaded([x, np.array([3])]), model([x, np.array([3])]))
    with pytest.raises(ValueError, match="stride"):
        ZeroBeyondLength(stride=0)
    with pytest.raises(ValueError, match="axis"):
        ZeroBeyondLength(axis=0)
