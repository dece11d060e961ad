"""`lstmsuite.layers.SimpleRNN` against `keras.layers.SimpleRNN` with the same
weights, a NumPy reference of Elman's step, and its argument errors."""

import keras
import numpy as np
import pytest

from lstmsuite.layers import CELLS, DeepLSTM, SimpleRNN, SimpleRNNCell
from tests.layers import parity
from tests.layers.helpers import randomize_weights, to_numpy


@pytest.mark.parametrize("case", parity.CASES, ids=parity.CASE_IDS)
def test_parity_with_keras(case):
    parity.check_case(keras.layers.SimpleRNN, SimpleRNN, {}, case, n_states=1)


def test_parity_stateful_bidirectional_and_masks():
    parity.check_stateful(keras.layers.SimpleRNN, SimpleRNN, {})
    parity.check_bidirectional(keras.layers.SimpleRNN, SimpleRNN, {}, "concat", True)
    parity.check_embedding_mask(keras.layers.SimpleRNN, SimpleRNN, {})


def test_matches_the_numpy_recurrence():
    layer = SimpleRNN(3, return_sequences=True, activation="relu")
    x = np.random.default_rng(0).normal(size=(2, 6, 4)).astype("float32")
    layer.build(x.shape)
    randomize_weights(layer, seed=1)
    kernel, recurrent, bias = layer.get_weights()
    h, expected = np.zeros((2, 3)), []
    for t in range(6):
        h = np.maximum(x[:, t] @ kernel + h @ recurrent + bias, 0.0)
        expected.append(h)
    np.testing.assert_allclose(to_numpy(layer(x)), np.stack(expected, 1), atol=1e-5)
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]


def test_zoneout_and_variational_dropout_train_and_round_trip():
    layer = SimpleRNN(
        3, recurrent_dropout=0.25, zoneout_hidden=0.5, dropout=0.1, seed=2
    )
    x = np.random.default_rng(3).normal(size=(2, 5, 4)).astype("float32")
    trained = to_numpy(layer(x, training=True))
    assert trained.shape == (2, 3) and np.isfinite(trained).all()
    # At inference zoneout is its expectation: h = r h(t-1) + (1 - r) h'.
    plain = SimpleRNN(3, return_sequences=True)
    zoned = SimpleRNN(3, return_sequences=True, zoneout_hidden=0.5)
    for rnn in (plain, zoned):
        rnn.build(x.shape)
    zoned.set_weights(plain.get_weights())
    kernel, recurrent, bias = plain.get_weights()
    h, expected = np.zeros((2, 3)), []
    for t in range(5):
        h = 0.5 * h + 0.5 * np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        expected.append(h)
    np.testing.assert_allclose(to_numpy(zoned(x)), np.stack(expected, 1), atol=1e-5)
    clone = SimpleRNN.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert "recurrent_activation" not in layer.get_config()


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"recurrent_activation": "sigmoid"}, "recurrent_activation"),
        ({"unit_forget_bias": True}, "unit_forget_bias"),
        ({"zoneout_cell": 0.1}, "zoneout_cell"),
        ({"cell_clip": 3.0}, "cell_clip"),
        (
            {"recurrent_dropout": 0.2, "recurrent_dropout_mode": "semeniuta"},
            "recurrent_dropout_mode",
        ),
        ({"units": 0}, "units"),
    ],
)
def test_argument_errors_name_the_argument(kwargs, argument):
    kwargs = {"units": 3, **kwargs}
    for cls in (SimpleRNN, SimpleRNNCell):
        with pytest.raises(ValueError, match=argument):
            cls(**kwargs)


def test_by_name_in_cells_and_deep_stacks():
    assert CELLS["simple_rnn"] is SimpleRNN
    stack = DeepLSTM(3, num_layers=2, cell="simple_rnn", return_sequences=True)
    x = np.zeros((2, 4, 5), "float32")
    assert tuple(stack(x).shape) == (2, 4, 3)
    assert all(isinstance(layer, SimpleRNN) for layer in stack.rnn_layers)
