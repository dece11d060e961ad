"""`lstmsuite.layers.DeepLSTM`: a stack of recurrent layers."""

import keras
import numpy as np
import pytest

from lstmsuite.layers import CELLS, LSTM, DeepLSTM
from tests.layers.helpers import BATCH, FEATURES, TIME, randomize_weights, to_numpy

ATOL = 1e-5
LENGTHS = (TIME, 3, 1)
MASK = np.arange(TIME)[None, :] < np.array(LENGTHS)[:, None]
EXTRA = {"lstmp": {"proj_units": 2}}


def make_stack(cell="lstm", units=3, num_layers=2, weight_seed=0, **kwargs):
    stack = DeepLSTM(
        units, num_layers=num_layers, cell=cell, **EXTRA.get(cell, {}), **kwargs
    )
    stack.build((BATCH, TIME, FEATURES))
    randomize_weights(stack, seed=weight_seed, scale=0.7)
    return stack


def inputs(seed=1):
    x = np.random.default_rng(seed).normal(size=(BATCH, TIME, FEATURES))
    return x.astype("float32")


def manual(stack, x, mask=None, initial_state=None, residual=False):
    """Runs the sublayers one after the other; returns (sequence, flat states)."""
    states, offset = [], 0
    for layer in stack.rnn_layers:
        layer_initial = None
        if initial_state is not None:
            n = len(layer.cell.state_size)
            layer_initial = initial_state[offset : offset + n]
            offset += n
        y, *layer_states = layer(x, mask=mask, initial_state=layer_initial)
        y = to_numpy(y)
        if residual and y.shape[-1] == x.shape[-1]:
            y = y + x
        states.extend(to_numpy(s) for s in layer_states)
        x = y
    return x, states


def assert_all_close(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(to_numpy(a), to_numpy(e), atol=ATOL)


@pytest.mark.parametrize("cell", list(CELLS))
def test_stack_is_the_composition_of_its_layers(cell):
    stack = make_stack(
        cell, units=[4, 3], num_layers=2, return_sequences=True, return_state=True
    )
    assert len(stack.rnn_layers) == 2
    assert [type(layer) for layer in stack.rnn_layers] == [CELLS[cell]] * 2
    x = inputs()
    output, *states = stack(x)
    sequence, expected_states = manual(stack, x)
    np.testing.assert_allclose(to_numpy(output), sequence, atol=ATOL)
    # return_state order: h1, c1, h2, c2, ... (h1, h2, ... for GRU).
    assert_all_close(states, expected_states)
    per_layer = len(stack.rnn_layers[0].cell.state_size)  # [h, c]; GRU [h]; ...
    assert per_layer == {"gru": 1, "mingru": 1, "minlstm": 1}.get(cell, per_layer)
    assert len(states) == 2 * per_layer
    np.testing.assert_allclose(to_numpy(states[-per_layer]), sequence[:, -1], atol=ATOL)
    # The shape the layer declares is the shape it returns.
    declared = stack.compute_output_shape((BATCH, TIME, FEATURES))
    assert [tuple(s) for s in declared] == [tuple(output.shape)] + [
        tuple(s.shape) for s in states
    ]


@pytest.mark.parametrize("cell", ["lstm", "layernorm"])
def test_residual_adds_the_input_of_equal_width_layers(cell):
    # Widths 4 -> 4 -> 3 -> 3: residuals on layers 1, 3 (4 == 4, 3 == 3), not 2.
    stack = make_stack(
        cell, units=[4, 3, 3], num_layers=3, residual=True, return_sequences=True
    )
    x = inputs()
    l1, l2, l3 = stack.rnn_layers
    y1 = to_numpy(l1(x)[0]) + x
    y2 = to_numpy(l2(y1)[0])
    y3 = to_numpy(l3(y2)[0]) + y2
    np.testing.assert_allclose(to_numpy(stack(x)), y3, atol=ATOL)
    sequence, _ = manual(stack, x, residual=True)
    np.testing.assert_allclose(y3, sequence, atol=ATOL)
    plain = make_stack(cell, units=[4, 3, 3], num_layers=3, return_sequences=True)
    assert not np.allclose(to_numpy(plain(x)), y3, atol=1e-3)


def test_inter_layer_dropout_only_in_training():
    dropped = make_stack(inter_layer_dropout=0.5, return_sequences=True, seed=3)
    plain = make_stack(return_sequences=True)
    x = inputs()
    expected = to_numpy(plain(x))
    np.testing.assert_allclose(to_numpy(dropped(x)), expected, atol=ATOL)
    np.testing.assert_allclose(
        to_numpy(dropped(x, training=False)), expected, atol=ATOL
    )
    assert not np.allclose(to_numpy(dropped(x, training=True)), expected, atol=1e-3)


@pytest.mark.parametrize(
    "cell, return_sequences", [("lstm", True), ("lstm", False), ("gru", False)]
)
def test_masking(cell, return_sequences):
    stack = make_stack(cell, return_sequences=return_sequences, return_state=True)
    x = inputs()
    output, *states = stack(x, mask=MASK)
    sequence, expected_states = manual(stack, x, mask=MASK)
    assert_all_close(states, expected_states)
    if return_sequences:
        np.testing.assert_allclose(to_numpy(output), sequence, atol=ATOL)
    output = to_numpy(output)
    # Each sequence gives the same result alone, without its padding.
    for b, length in enumerate(LENGTHS):
        alone, *alone_states = stack(x[b : b + 1, :length])
        alone = to_numpy(alone)
        if return_sequences:
            np.testing.assert_allclose(output[b, :length], alone[0], atol=ATOL)
        else:
            np.testing.assert_allclose(output[b], alone[0], atol=ATOL)
        for state, alone_state in zip(states, alone_states):
            np.testing.assert_allclose(
                to_numpy(state)[b], to_numpy(alone_state)[0], atol=ATOL
            )


def test_mask_from_embedding_propagates():
    tokens = np.zeros((BATCH, TIME), "int32")
    for b, length in enumerate(LENGTHS):
        tokens[b, :length] = np.arange(1, length + 1)
    inputs_ = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(8, FEATURES, mask_zero=True)(inputs_)
    model = keras.Model(inputs_, DeepLSTM(3, num_layers=2)(embedded))
    out = to_numpy(model(tokens))
    np.testing.assert_allclose(out[2], to_numpy(model(tokens[2:, :1]))[0], atol=ATOL)
    np.testing.assert_allclose(out[1], to_numpy(model(tokens[1:2, :3]))[0], atol=ATOL)


@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_go_backwards_is_the_stack_on_the_flipped_input(cell, use_mask):
    backwards = make_stack(
        cell, go_backwards=True, return_sequences=True, return_state=True
    )
    forwards = make_stack(cell, return_sequences=True, return_state=True)
    x = inputs()
    mask = MASK if use_mask else None
    flipped_mask = None if mask is None else mask[:, ::-1].copy()
    assert_all_close(
        backwards(x, mask=mask),
        forwards(np.ascontiguousarray(x[:, ::-1]), mask=flipped_mask),
    )


@pytest.mark.parametrize("use_mask", [False, True])
def test_single_layer_matches_the_layer(use_mask):
    """One layer deep, DeepLSTM is LSTM (also backwards and with a mask)."""
    for kwargs in ({}, {"go_backwards": True}, {"return_sequences": True}):
        stack = make_stack(num_layers=1, return_state=True, **kwargs)
        layer = LSTM(3, return_state=True, **kwargs)
        layer.build((BATCH, TIME, FEATURES))
        layer.set_weights(stack.get_weights())
        mask = MASK if use_mask else None
        x = inputs()
        assert_all_close(stack(x, mask=mask), layer(x, mask=mask))


def test_initial_state():
    stack = make_stack(return_sequences=True, return_state=True)
    rng = np.random.default_rng(2)
    initial = [rng.normal(size=(BATCH, 3)).astype("float32") for _ in range(4)]
    x = inputs()
    output, *states = stack(x, initial_state=initial)
    sequence, expected_states = manual(stack, x, initial_state=initial)
    np.testing.assert_allclose(to_numpy(output), sequence, atol=ATOL)
    assert_all_close(states, expected_states)
    assert not np.allclose(to_numpy(output), to_numpy(stack(x)[0]), atol=1e-3)


def test_stateful_and_reset_state():
    stack = make_stack(stateful=True, return_sequences=True)
    x = inputs()
    first = to_numpy(stack(x))
    second = to_numpy(stack(x))
    assert not np.allclose(first, second, atol=1e-3)
    stack.reset_state()
    np.testing.assert_allclose(to_numpy(stack(x)), first, atol=ATOL)


@pytest.mark.parametrize("cell", list(CELLS))
def test_get_config_from_config(cell):
    # A plain RNN has no gated candidate for Semeniuta's mask.
    mode = "variational" if cell == "simple_rnn" else "semeniuta"
    stack = make_stack(
        cell,
        units=[3, 3],
        residual=True,
        inter_layer_dropout=0.25,
        return_sequences=True,
        go_backwards=True,
        seed=5,
        recurrent_dropout=0.1,
        recurrent_dropout_mode=mode,
        # mLSTM's h is no recurrent state: it has no zoneout.
        **({} if cell == "mlstm" else {"zoneout_hidden": 0.1}),
    )
    config = stack.get_config()
    assert config["cell"] == cell
    assert config["units"] == [3, 3]
    assert config.get("recurrent_dropout_mode", "variational") == mode
    clone = DeepLSTM.from_config(config)
    assert clone.get_config() == config
    clone.build((BATCH, TIME, FEATURES))
    clone.set_weights(stack.get_weights())
    x = inputs()
    np.testing.assert_allclose(to_numpy(clone(x)), to_numpy(stack(x)), atol=ATOL)
