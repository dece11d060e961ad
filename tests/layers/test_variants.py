"""Every variant against the NumPy reference of its paper's equations."""

from pathlib import Path

import keras
import numpy as np
import pytest

from lstmsuite.layers import LSTMP
from tests.layers import numpy_reference as ref_np
from tests.layers.helpers import (
    PROJ,
    VARIANTS,
    cell_weights,
    randomize_weights,
    to_numpy,
)

BATCH, TIME, FEATURES, UNITS = 3, 5, 4, 3
ATOL = 1e-5

# name: (layer kwargs, NumPy step kwargs, call options)
OPTIONS = {
    "plain": ({}, {}, {}),
    "cell_clip": ({"cell_clip": 0.25}, {"cell_clip": 0.25}, {}),
    "zoneout_inference": (
        {"zoneout_cell": 0.3, "zoneout_hidden": 0.6},
        {"zoneout_cell": 0.3, "zoneout_hidden": 0.6},
        {},
    ),
    "zoneout_hidden_inference": (
        {"zoneout_hidden": 0.4},
        {"zoneout_hidden": 0.4},
        {},
    ),
    "go_backwards_initial_state": ({"go_backwards": True}, {}, {"initial": True}),
    "proj_clip": ({"proj_clip": 0.1}, {"proj_clip": 0.1}, {}),
    "proj_and_cell_clip": (
        {"proj_clip": 0.15, "cell_clip": 0.2},
        {"proj_clip": 0.15, "cell_clip": 0.2},
        {},
    ),
}


def _applies(variant, option):
    layer_kwargs = OPTIONS[option][0]
    if variant.startswith("gru") and (
        "cell_clip" in layer_kwargs or "zoneout_cell" in layer_kwargs
    ):
        return False
    return variant == "lstmp" or "proj_clip" not in layer_kwargs


CASES = [
    (variant, option)
    for variant in VARIANTS
    for option in OPTIONS
    if _applies(variant, option)
]


def make_layer(variant, seed=0, scale=0.8, **kwargs):
    layer_class, _, fixed, _, _ = VARIANTS[variant]
    layer = layer_class(
        UNITS, return_sequences=True, return_state=True, **fixed, **kwargs
    )
    layer.build((BATCH, TIME, FEATURES))
    randomize_weights(layer, seed=seed, scale=scale)
    return layer


def random_states(layer, seed=4):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(BATCH, size)).astype("float32")
        for size in layer.cell.state_size
    ]


def reference(variant, layer, x, states, **step_kwargs):
    _, _, _, step, fixed = VARIANTS[variant]
    return ref_np.run(
        step,
        x,
        states,
        cell_weights(layer),
        go_backwards=layer.go_backwards,
        **fixed,
        **step_kwargs,
    )


@pytest.mark.parametrize("variant, option", CASES, ids=[f"{v}-{o}" for v, o in CASES])
def test_matches_numpy_reference(variant, option):
    layer_kwargs, step_kwargs, call_options = OPTIONS[option]
    layer = make_layer(variant, **layer_kwargs)
    x = np.random.default_rng(1).normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    if call_options.get("initial"):
        states = random_states(layer)
        outputs, *final = layer(x, initial_state=states, training=False)
    else:
        states = [np.zeros((BATCH, size)) for size in layer.cell.state_size]
        outputs, *final = layer(x, training=False)
    expected, expected_final = reference(variant, layer, x, states, **step_kwargs)
    assert len(final) == len(expected_final) == len(layer.cell.state_size)
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=ATOL)
    for state, expected_state in zip(final, expected_final):
        np.testing.assert_allclose(to_numpy(state), expected_state, atol=ATOL)
    if step_kwargs:
        # The option changes the result (a clip that never clips tests nothing).
        plain, _ = reference(variant, layer, x, states)
        assert not np.allclose(plain, expected, atol=1e-3)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cell_in_keras_rnn_matches_layer(variant):
    """Each cell also works step by step inside a plain `keras.layers.RNN`."""
    _, cell_class, fixed, _, _ = VARIANTS[variant]
    kwargs = {"zoneout_hidden": 0.2}
    if not variant.startswith("gru"):
        kwargs.update(zoneout_cell=0.1, cell_clip=0.5)
    layer = make_layer(variant, **kwargs)
    rnn = keras.layers.RNN(
        cell_class(UNITS, **fixed, **kwargs), return_sequences=True, return_state=True
    )
    rnn.build((BATCH, TIME, FEATURES))
    rnn.set_weights(layer.get_weights())
    x = np.random.default_rng(2).normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    for ours, ref in zip(layer(x), rnn(x)):
        np.testing.assert_allclose(to_numpy(ours), to_numpy(ref), atol=ATOL)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_state_and_weight_shapes(variant):
    layer = make_layer(variant)
    output_width = PROJ if variant == "lstmp" else UNITS
    if variant.startswith("gru"):
        assert layer.cell.state_size == [output_width]
    else:
        assert layer.cell.state_size == [output_width, UNITS]
    outputs, *states = layer(np.zeros((BATCH, TIME, FEATURES), "float32"))
    assert tuple(outputs.shape) == (BATCH, TIME, output_width)
    assert [tuple(s.shape) for s in states] == [
        (BATCH, size) for size in layer.cell.state_size
    ]
    blocks = 3 if variant.startswith(("gru", "cifg")) else 4
    assert tuple(layer.cell.kernel.shape) == (FEATURES, blocks * UNITS)
    assert tuple(layer.cell.recurrent_kernel.shape) == (output_width, blocks * UNITS)


# Golden values of torch.nn.LSTM(proj_size=...): see make_lstmp_fixture.py.
FIXTURE = Path(__file__).parent / "fixtures" / "lstmp_torch.npz"


@pytest.mark.parametrize("with_initial_state", [False, True])
def test_lstmp_matches_torch(with_initial_state):
    data = np.load(FIXTURE)
    units, features = data["weight_hh"].shape[0] // 4, data["weight_ih"].shape[1]
    proj_units = data["weight_hr"].shape[0]
    layer = LSTMP(
        units, proj_units=proj_units, return_sequences=True, return_state=True
    )
    x = data["x"].astype("float32")
    layer.build((None, None, features))
    cell = layer.cell
    cell.kernel.assign(data["weight_ih"].T)
    cell.recurrent_kernel.assign(data["weight_hh"].T)
    cell.bias.assign(data["bias_ih"] + data["bias_hh"])
    cell.projection_kernel.assign(data["weight_hr"].T)
    if with_initial_state:
        initial = [data["h0"].astype("float32"), data["c0"].astype("float32")]
        outputs, h, c = layer(x, initial_state=initial)
        expected = data["outputs"], data["h_n"], data["c_n"]
    else:
        outputs, h, c = layer(x)
        expected = data["outputs_zero"], data["h_n_zero"], data["c_n_zero"]
    assert tuple(h.shape) == (x.shape[0], proj_units)
    assert tuple(c.shape) == (x.shape[0], units)
    for ours, golden in zip((outputs, h, c), expected):
        np.testing.assert_allclose(to_numpy(ours), golden, atol=ATOL)


def test_cifg_input_gate_is_one_minus_forget_gate():
    """With f forced to 0, i = 1 - f = 1: c(t) is the candidate g(t) alone."""
    layer = make_layer("cifg")
    bias = to_numpy(layer.cell.bias)
    bias[:UNITS] = -40.0  # forget block
    layer.cell.bias.assign(bias)
    x = np.random.default_rng(3).normal(size=(BATCH, 1, FEATURES)).astype("float32")
    h0, c0 = random_states(layer)
    _, _, c = layer(x, initial_state=[h0, c0])
    w = cell_weights(layer)
    z = x[:, 0] @ w["kernel"] + h0 @ w["recurrent_kernel"] + w["bias"]
    np.testing.assert_allclose(to_numpy(c), np.tanh(z[:, UNITS : 2 * UNITS]), atol=ATOL)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_one_step_sequence_matches_first_step(variant):
    """Step-by-step decoding calls a layer on one-step sequences, where a cell
    derives no per-sequence weights (`sequence_masks`): same result as step 1 of
    the whole sequence."""
    layer = make_layer(variant)
    x = np.random.default_rng(3).normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    states = random_states(layer)
    whole = layer(x, initial_state=states)
    first = layer(x[:, :1], initial_state=states)
    np.testing.assert_allclose(
        to_numpy(first[0])[:, 0], to_numpy(whole[0])[:, 0], atol=ATOL
    )
    h = np.zeros((BATCH, UNITS), "float32")
    assert layer.cell.sequence_masks(h, False, 1).derived is None
    derived = layer.cell.sequence_masks(h, False, TIME).derived
    assert (derived is not None) == (variant == "layernorm")
