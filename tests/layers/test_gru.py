"""`lstmsuite.layers.GRU` against `keras.layers.GRU` with the same weights (both
modes)."""

import keras
import numpy as np
import pytest

from lstmsuite.layers import GRU, GRUCell
from tests.layers import parity
from tests.layers.helpers import randomize_weights, to_numpy

RESET_AFTER = [True, False]


def _ids(value):
    return f"reset_after={value}"


@pytest.mark.parametrize("case", parity.CASES, ids=parity.CASE_IDS)
@pytest.mark.parametrize("reset_after", RESET_AFTER, ids=_ids)
def test_parity_with_keras(reset_after, case):
    parity.check_case(
        keras.layers.GRU, GRU, {"reset_after": reset_after}, case, n_states=1
    )


@pytest.mark.parametrize("reset_after", RESET_AFTER, ids=_ids)
def test_parity_stateful_and_reset_state(reset_after):
    parity.check_stateful(keras.layers.GRU, GRU, {"reset_after": reset_after})


@pytest.mark.parametrize(
    "reset_after, merge_mode, mask", [(True, "concat", True), (False, "ave", True)]
)
def test_parity_bidirectional(reset_after, merge_mode, mask):
    parity.check_bidirectional(
        keras.layers.GRU, GRU, {"reset_after": reset_after}, merge_mode, mask
    )


@pytest.mark.parametrize("reset_after", RESET_AFTER, ids=_ids)
def test_parity_embedding_mask_zero(reset_after):
    parity.check_embedding_mask(keras.layers.GRU, GRU, {"reset_after": reset_after})


@pytest.mark.parametrize("reset_after", RESET_AFTER, ids=_ids)
def test_parity_masking_layer(reset_after):
    parity.check_masking_layer(keras.layers.GRU, GRU, {"reset_after": reset_after})


@pytest.mark.parametrize("reset_after", RESET_AFTER, ids=_ids)
def test_weights_match_keras_names_and_shapes(reset_after):
    ref, ours = parity.make_pair(keras.layers.GRU, GRU, {"reset_after": reset_after})
    assert [w.name for w in ours.weights] == [w.name for w in ref.weights]
    shapes = [tuple(w.shape) for w in ours.weights]
    assert shapes == [tuple(w.shape) for w in ref.weights]
    bias_shape = (2, 9) if reset_after else (9,)
    assert shapes[-1] == bias_shape


def test_initial_state_as_a_single_tensor():
    layer = GRU(3, return_state=True)
    x = np.random.default_rng(0).normal(size=(2, 4, 5)).astype("float32")
    h0 = np.random.default_rng(1).normal(size=(2, 3)).astype("float32")
    layer.build(x.shape)
    randomize_weights(layer)
    output, h = layer(x, initial_state=h0)
    output_list, h_list = layer(x, initial_state=[h0])
    np.testing.assert_allclose(to_numpy(output), to_numpy(output_list), atol=1e-6)
    np.testing.assert_allclose(to_numpy(h), to_numpy(output), atol=1e-6)


@pytest.mark.parametrize("reset_after", RESET_AFTER, ids=_ids)
def test_cell_matches_keras_cell(reset_after):
    """`GRUCell` in a plain `keras.layers.RNN` against `keras.layers.GRUCell`."""
    ref = keras.layers.RNN(
        keras.layers.GRUCell(3, reset_after=reset_after), return_sequences=True
    )
    ours = keras.layers.RNN(GRUCell(3, reset_after=reset_after), return_sequences=True)
    x = np.random.default_rng(2).normal(size=(2, 4, 5)).astype("float32")
    ref.build(x.shape)
    ours.build(x.shape)
    randomize_weights(ref)
    ours.set_weights(ref.get_weights())
    parity.assert_same_outputs(ref(x), ours(x))
