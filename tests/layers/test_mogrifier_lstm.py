"""`MogrifierLSTM` against a NumPy reference of the paper's equations and `LSTM`."""

import keras
import numpy as np
import pytest

from lstmsuite.layers.lstm import LSTM
from lstmsuite.layers.mogrifier_lstm import MogrifierLSTM, MogrifierLSTMCell
from tests.layers import numpy_reference as ref_np
from tests.layers import reference_mogrifier as ref
from tests.layers.helpers import (
    BACKEND,
    cell_weights,
    loss_and_grads,
    loss_function,
    randomize_weights,
    to_numpy,
)

BATCH, TIME, FEATURES, UNITS = 3, 5, 4, 3
ATOL = 1e-5


def make_layer(units=UNITS, seed=0, scale=0.8, **kwargs):
    layer = MogrifierLSTM(units, return_sequences=True, return_state=True, **kwargs)
    layer.build((BATCH, TIME, FEATURES))
    randomize_weights(layer, seed=seed, scale=scale)
    return layer


def inputs(seed=1, time=TIME):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BATCH, time, FEATURES)).astype("float32")


def random_states(seed=4):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(2)]


def reference(layer, x, states, **kwargs):
    return ref_np.run(
        ref.mogrifier_step,
        x,
        states,
        cell_weights(layer),
        go_backwards=layer.go_backwards,
        rounds=layer.rounds,
        **kwargs,
    )


def assert_result(result, expected, expected_states):
    outputs, *states = result
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=ATOL)
    assert len(states) == len(expected_states) == 2
    for state, want in zip(states, expected_states):
        np.testing.assert_allclose(to_numpy(state), want, atol=ATOL)


# name: (layer kwargs, reference kwargs, initial state?)
CASES = {
    "rounds5": ({}, {}, False),
    "rounds4_rank2_go_backwards": (
        {"rounds": 4, "rank": 2, "go_backwards": True},
        {},
        True,
    ),
    "rounds1_clip_zoneout_inference": (
        {"rounds": 1, "cell_clip": 0.3, "zoneout_cell": 0.3, "zoneout_hidden": 0.6},
        {"cell_clip": 0.3, "zoneout_cell": 0.3, "zoneout_hidden": 0.6},
        True,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_numpy_reference(case):
    layer_kwargs, ref_kwargs, initial = CASES[case]
    layer = make_layer(**layer_kwargs)
    x = inputs()
    if initial:
        states = random_states()
        result = layer(x, initial_state=states, training=False)
    else:
        states = [np.zeros((BATCH, UNITS))] * 2
        result = layer(x, training=False)
    assert_result(result, *reference(layer, x, states, **ref_kwargs))
    # The mogrifier mattered: the LSTM on the same weights differs.
    plain, _ = ref_np.run(
        ref_np.lstm_step,
        x,
        states,
        cell_weights(layer),
        go_backwards=layer.go_backwards,
    )
    assert not np.allclose(plain, to_numpy(result[0]), atol=1e-3)


def test_rounds_zero_is_lstm_and_zero_matrices_are_identity():
    """rounds=0: `LSTM` on the same weights (and no other weights). With every
    mogrifier matrix zero, each round multiplies by 2σ(0) = 1: `LSTM` again."""
    lstm = LSTM(UNITS, return_sequences=True, return_state=True)
    lstm.build((BATCH, TIME, FEATURES))
    randomize_weights(lstm, seed=2)
    x, states = inputs(), random_states()
    expected = [to_numpy(t) for t in lstm(x, initial_state=states)]
    plain = make_layer(rounds=0)
    assert len(plain.weights) == 3
    plain.set_weights(lstm.get_weights())
    zeros = make_layer(rounds=3, mogrifier_initializer="zeros")
    zeros.set_weights(lstm.get_weights() + [w * 0 for w in zeros.get_weights()[3:]])
    for layer in (plain, zeros):
        for ours, want in zip(layer(x, initial_state=states), expected):
            np.testing.assert_allclose(to_numpy(ours), want, atol=ATOL)


def test_rank_factorizes_the_matrices():
    """A rank-2 layer equals the full-rank one whose Qʲ, Rʲ are the products."""
    low = make_layer(rounds=3, rank=2)
    shapes = {w.name: tuple(w.shape) for w in low.cell.weights}
    assert shapes["mogrifier_q1_left"] == (UNITS, 2)
    assert shapes["mogrifier_q1_right"] == (2, FEATURES)
    assert shapes["mogrifier_r2_left"] == (FEATURES, 2)
    assert shapes["mogrifier_r2_right"] == (2, UNITS)
    assert len(shapes) == 3 + 2 * 3
    full = make_layer(rounds=3)
    assert {w.name: tuple(w.shape) for w in full.cell.weights}["mogrifier_r2"] == (
        FEATURES,
        UNITS,
    )
    values = low.get_weights()
    full.set_weights(
        values[:3] + [left @ right for left, right in zip(values[3::2], values[4::2])]
    )
    x = inputs()
    for a, b in zip(low(x), full(x)):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=ATOL)


def test_cell_in_keras_rnn_masks_and_one_step():
    kwargs = {"rounds": 4, "zoneout_hidden": 0.2, "zoneout_cell": 0.1, "cell_clip": 1}
    layer = make_layer(**kwargs)
    rnn = keras.layers.RNN(
        MogrifierLSTMCell(UNITS, **kwargs), return_sequences=True, return_state=True
    )
    rnn.build((BATCH, TIME, FEATURES))
    rnn.set_weights(layer.get_weights())
    x = inputs(seed=2)
    mask = np.ones((BATCH, TIME), bool)
    mask[0, :2] = mask[1, 3:] = mask[2, 2] = False
    call = {"mask": mask, "initial_state": random_states()}
    for ours, theirs in zip(layer(x, **call), rnn(x, **call)):
        np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), atol=ATOL)
    states = random_states()
    whole = to_numpy(layer(x, initial_state=states)[0])
    first = to_numpy(layer(x[:, :1], initial_state=states)[0])
    np.testing.assert_allclose(first[:, 0], whole[:, 0], atol=ATOL)


def record(monkeypatch, obj, name):
    seen = []
    original = getattr(obj, name)

    def wrapper(*args, **kwargs):
        value = original(*args, **kwargs)
        if value is not None:
            seen.append(to_numpy(value))
        return value

    monkeypatch.setattr(obj, name, wrapper)
    return seen


@pytest.mark.parametrize("mode", ["variational", "semeniuta"])
def test_training_masks_match_reference(mode, monkeypatch):
    """Input dropout (on x, before the mogrifier), recurrent dropout (on h(t-1)
    before the mogrifier and U, or on g) and zoneout, replayed in NumPy."""
    layer = make_layer(
        rounds=3,
        dropout=0.3,
        recurrent_dropout=0.4,
        recurrent_dropout_mode=mode,
        zoneout_cell=0.3,
        zoneout_hidden=0.4,
        seed=3,
    )
    cell = layer.cell
    x_masks = record(monkeypatch, cell, "get_dropout_mask")
    r_masks = record(monkeypatch, cell, "get_recurrent_dropout_mask")
    zoneout = record(monkeypatch, cell, "_zoneout_mask")
    x, states = inputs(), random_states()
    result = layer(x, initial_state=states, training=True)
    assert x_masks and r_masks and len(zoneout) == 2
    zoneout = [
        m if m.shape[:2] == (BATCH, TIME) else m.transpose(1, 0, 2) for m in zoneout
    ]
    mask_arg = "h_mask" if mode == "variational" else "g_mask"
    expected = reference(
        layer,
        x,
        states,
        x_mask=x_masks[-1],
        zoneout_masks={"zoneout_cell": zoneout[0], "zoneout_hidden": zoneout[1]},
        **{mask_arg: r_masks[-1]},
    )
    assert_result(result, *expected)
    plain, _ = reference(layer, x, states)
    assert not np.allclose(plain, expected[0], atol=1e-3)


if BACKEND == "tensorflow":
    DTYPE, EPS, RTOL, GRAD_ATOL = "float64", 1e-6, 1e-5, 1e-8
else:  # JAX computes in float32
    DTYPE, EPS, RTOL, GRAD_ATOL = "float32", 1e-2, 2e-2, 2e-3


# JAX compiles two functions per case (seconds each): there, one case.
GRADIENT_CASES = [(2, 1)] + ([(5, None)] if BACKEND == "tensorflow" else [])


@pytest.mark.parametrize("rounds, rank", GRADIENT_CASES)
def test_gradients_match_central_differences(rounds, rank):
    layer = MogrifierLSTM(
        3,
        rounds=rounds,
        rank=rank,
        return_sequences=True,
        return_state=True,
        zoneout_hidden=0.25,
        dtype=DTYPE,
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 2)).astype(DTYPE)
    layer.build(x.shape)
    layer.set_weights(
        [rng.normal(0.0, 0.7, w.shape).astype(DTYPE) for w in layer.get_weights()]
    )
    _, _, grad_x, grad_weights = loss_and_grads(layer, x)
    assert len(grad_weights) == 3 + (rounds if rank is None else 2 * rounds)
    loss = loss_function(layer)
    values = [to_numpy(v) for v in layer.trainable_variables]
    for index in [(0, 0, 0), (1, 2, 1), (1, 3, 0)]:
        plus, minus = x.copy(), x.copy()
        plus[index] += EPS
        minus[index] -= EPS
        numeric = (loss(plus, values) - loss(minus, values)) / (2 * EPS)
        np.testing.assert_allclose(grad_x[index], numeric, rtol=RTOL, atol=GRAD_ATOL)
    for n, grad in enumerate(grad_weights):
        value = values[n]
        index = np.unravel_index(rng.integers(value.size), value.shape)
        losses = []
        for sign in (1, -1):
            shifted = value.copy()
            shifted[index] += sign * EPS
            losses.append(loss(x, values[:n] + [shifted] + values[n + 1 :]))
        numeric = (losses[0] - losses[1]) / (2 * EPS)
        np.testing.assert_allclose(grad[index], numeric, rtol=RTOL, atol=GRAD_ATOL)


def test_config_round_trip():
    layer = MogrifierLSTM(
        4,
        rounds=3,
        rank=2,
        mogrifier_initializer="ones",
        recurrent_dropout=0.1,
        cell_clip=2.0,
        go_backwards=True,
    )
    config = layer.get_config()
    clone = MogrifierLSTM.from_config(config)
    assert clone.get_config() == config
    assert (clone.rounds, clone.rank) == (3, 2)
    assert isinstance(clone.mogrifier_initializer, keras.initializers.Ones)
    cell_config = MogrifierLSTMCell(4, rounds=0).get_config()
    assert MogrifierLSTMCell.from_config(cell_config).get_config() == cell_config
    assert MogrifierLSTM(4).rounds == 5 and MogrifierLSTM(4).rank is None


@pytest.mark.parametrize(
    "argument, value",
    [("rounds", -1), ("rounds", 1.5), ("rounds", True), ("rank", 0), ("rank", "2")],
)
@pytest.mark.parametrize("cls", [MogrifierLSTM, MogrifierLSTMCell])
def test_argument_errors_name_the_argument(cls, argument, value):
    with pytest.raises(ValueError, match=rf"`{argument}`[\s\S]*{argument}={value!r}"):
        cls(4, **{argument: value})
