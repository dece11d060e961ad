"""`SLSTM` (xLSTM's sLSTM) against NumPy references of the paper's equations."""

import keras
import numpy as np
import pytest

from lstmsuite.layers.slstm import SLSTM, SLSTMCell
from tests.layers import numpy_reference as ref_np
from tests.layers import reference_xlstm_slstm as ref
from tests.layers.helpers import (
    BACKEND,
    cell_weights,
    loss_and_grads,
    loss_function,
    randomize_weights,
    to_numpy,
)

BATCH, TIME, FEATURES, UNITS = 3, 5, 4, 4
ATOL = 1e-5


def make_layer(units=UNITS, seed=0, scale=0.8, dtype=None, **kwargs):
    layer = SLSTM(
        units, return_sequences=True, return_state=True, dtype=dtype, **kwargs
    )
    layer.build((BATCH, TIME, FEATURES))
    randomize_weights(layer, seed=seed, scale=scale)
    return layer


def inputs(seed=1, time=TIME, dtype="float32"):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BATCH, time, FEATURES)).astype(dtype)


def random_states(units=UNITS, seed=4):
    """A valid state: n > 0, c within n's range, any m."""
    rng = np.random.default_rng(seed)
    h = rng.uniform(-1, 1, size=(BATCH, units))
    n = rng.uniform(0.5, 3.0, size=(BATCH, units))
    c = n * rng.uniform(-1, 1, size=(BATCH, units))
    m = rng.normal(0, 2, size=(BATCH, units))
    return [s.astype("float32") for s in (h, c, n, m)]


def zero_states(units=UNITS):
    return [np.zeros((BATCH, units), "float32") for _ in range(4)]


def reference(layer, x, states, **kwargs):
    return ref_np.run(
        ref.slstm_step,
        x,
        states,
        cell_weights(layer),
        go_backwards=layer.go_backwards,
        forget_gate=layer.forget_gate,
        **kwargs,
    )


def assert_result(result, expected, expected_states, atol=ATOL):
    outputs, *states = result
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=atol)
    assert len(states) == len(expected_states) == 4
    for state, want in zip(states, expected_states):
        np.testing.assert_allclose(to_numpy(state), want, atol=atol)


# name: (layer kwargs, reference kwargs, initial state?)
CASES = {
    "plain": ({}, {}, False),
    "exponential_heads_go_backwards": (
        {"forget_gate": "exponential", "num_heads": 2, "go_backwards": True},
        {},
        True,
    ),
    "zoneout_inference_heads4": (
        {"zoneout_cell": 0.4, "zoneout_hidden": 0.6, "num_heads": 4},
        {"zoneout_cell": 0.4, "zoneout_hidden": 0.6},
        False,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_numpy_reference(case):
    layer_kwargs, ref_kwargs, initial = CASES[case]
    layer = make_layer(**layer_kwargs)
    x = inputs()
    states = random_states() if initial else zero_states()
    call = {"initial_state": states} if initial else {}
    result = layer(x, training=False, **call)
    assert_result(result, *reference(layer, x, states, **ref_kwargs))
    if ref_kwargs:  # the option mattered
        plain, _ = reference(layer, x, states)
        assert not np.allclose(plain, to_numpy(result[0]), atol=1e-3)


@pytest.mark.parametrize(
    "forget_gate, zoneout", [("sigmoid", None), ("exponential", 0.3)]
)
def test_stabilized_equals_unstabilized(forget_gate, zoneout):
    """Where the plain exponential gating does not overflow, the stabilized
    states are its states times exp(-m), and h is the same."""
    layer = make_layer(num_heads=2, forget_gate=forget_gate, zoneout_cell=zoneout or 0)
    x = inputs(time=7)
    h0, c0, n0, m0 = (s.astype("float64") for s in random_states())
    true_states = [h0, c0 * np.exp(m0), n0 * np.exp(m0)]
    kwargs = {"zoneout_cell": zoneout}
    expected, (h, c, n) = ref_np.run(
        ref.slstm_step_unstabilized,
        x,
        true_states,
        cell_weights(layer),
        forget_gate=forget_gate,
        **kwargs,
    )
    assert np.all(np.isfinite(expected))
    stable, (h_s, c_s, n_s, m_s) = reference(layer, x, [h0, c0, n0, m0], **kwargs)
    np.testing.assert_allclose(stable, expected, atol=1e-10)
    np.testing.assert_allclose(c_s * np.exp(m_s), c, rtol=1e-10)
    np.testing.assert_allclose(n_s * np.exp(m_s), n, rtol=1e-10)
    states = [s.astype("float32") for s in (h0, c0, n0, m0)]
    outputs, *_ = layer(x, initial_state=states)
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=ATOL)


def test_large_pre_activations_stay_finite():
    """Gate pre-activations of about ±80 overflow exp in float32 unstabilized;
    here outputs and gradients stay finite and match the float64 reference."""
    layer = make_layer(num_heads=2, forget_gate="exponential", scale=20.0)
    x = inputs() * 4
    w = cell_weights(layer)
    pre = x @ w["kernel"] + w["bias"]
    assert np.abs(pre).max() > 80
    outputs, loss, grad_x, grads = loss_and_grads(layer, x)
    for value in [loss, grad_x, *grads, *outputs]:
        assert np.all(np.isfinite(value))
    expected, expected_states = reference(layer, x, zero_states())
    np.testing.assert_allclose(outputs[0], expected, atol=1e-4)
    # In float64 the plain recurrence gives the same h, through states that
    # float32 could not hold.
    plain, (_, _, n) = ref_np.run(
        ref.slstm_step_unstabilized, x, zero_states()[:3], w, forget_gate="exponential"
    )
    assert n.max() > np.finfo("float32").max
    np.testing.assert_allclose(plain, expected, atol=1e-10)


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exponential"])
def test_first_step_from_the_zero_state(forget_gate):
    """n = 0 (empty state): m = ĩ even where log f + m(t-1) is far larger, so
    i' = 1 and h = o * tanh(z̃) (with m(t-1) = 0 and ĩ = -200, i' would
    underflow to 0 and h be 0/0)."""
    layer = make_layer(forget_gate=forget_gate)
    bias = np.zeros(4 * UNITS, "float32")
    bias[:UNITS] = -200.0  # ĩ
    bias[UNITS : 2 * UNITS] = 50.0  # f̃: log f = 0 (sigmoid) or 50
    layer.cell.bias.assign(bias)
    x = inputs(time=3)
    outputs, h, c, n, m = (to_numpy(t) for t in layer(x))
    assert np.all(np.isfinite(outputs))
    w = cell_weights(layer)

    def first_step(x_t):  # from an empty state: h = o * tanh(z̃)
        _, _, z_z, z_o = np.split(x_t @ w["kernel"] + bias, 4, axis=-1)
        return ref.sigmoid(z_o) * np.tanh(z_z)

    np.testing.assert_allclose(outputs[:, 0], first_step(x[:, 0]), atol=ATOL)
    expected, expected_states = reference(layer, x, zero_states())
    assert_result((outputs, h, c, n, m), expected, expected_states, atol=1e-4)
    # A zero initial state given explicitly, and a row whose first steps are
    # masked (its state stays empty), behave alike.
    mask = np.ones((BATCH, 3), bool)
    mask[0, :2] = False
    masked = to_numpy(layer(x, initial_state=zero_states(), mask=mask)[0])
    assert np.all(np.isfinite(masked))
    np.testing.assert_allclose(masked[0, 2], first_step(x[0, 2]), atol=ATOL)
    np.testing.assert_allclose(masked[1:], outputs[1:], atol=ATOL)


def test_heads_are_block_diagonal():
    units, heads = 6, 3
    layer = make_layer(units=units, num_heads=heads)
    cell = layer.cell
    assert tuple(cell.recurrent_kernel.shape) == (heads, 2, 8)
    assert tuple(cell.kernel.shape) == (FEATURES, 4 * units)
    dense = to_numpy(cell.derive_weights())
    np.testing.assert_array_equal(
        dense, ref.dense_recurrent(to_numpy(cell.recurrent_kernel))
    )
    assert np.count_nonzero(dense) == heads * 2 * 8
    # A head's gates do not see other heads' h(t-1).
    states = random_states(units)
    changed = [s.copy() for s in states]
    changed[0][:, 2:] += 1.0  # h of heads 1 and 2
    x = inputs(time=1)
    a = to_numpy(layer(x, initial_state=states)[0])
    b = to_numpy(layer(x, initial_state=changed)[0])
    np.testing.assert_allclose(a[..., :2], b[..., :2], atol=1e-6)
    assert not np.allclose(a[..., 2:], b[..., 2:], atol=1e-3)


def test_cell_in_keras_rnn_masks_and_one_step():
    """`keras.layers.RNN(SLSTMCell)` (Keras's loop, no derived weights) equals
    the layer, with masks, zero_output_for_mask and one-step sequences."""
    kwargs = {"num_heads": 2, "zoneout_hidden": 0.2, "zoneout_cell": 0.1}
    layer = make_layer(zero_output_for_mask=True, **kwargs)
    rnn = keras.layers.RNN(
        SLSTMCell(UNITS, **kwargs),
        return_sequences=True,
        return_state=True,
        zero_output_for_mask=True,
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
    """Input and recurrent dropout (one mask per sequence) and zoneout (a mask
    per step, shared by c, n and m), replayed in the NumPy reference."""
    layer = make_layer(
        num_heads=2,
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
    x = inputs()
    states = random_states()
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
GRADIENT_CASES = ["exponential"] + (["sigmoid"] if BACKEND == "tensorflow" else [])


@pytest.mark.parametrize("forget_gate", GRADIENT_CASES)
def test_gradients_match_central_differences(forget_gate):
    layer = SLSTM(
        4,
        num_heads=2,
        forget_gate=forget_gate,
        return_sequences=True,
        return_state=True,
        zoneout_cell=0.25,
        dtype=DTYPE,
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 3)).astype(DTYPE)
    layer.build(x.shape)
    layer.set_weights(
        [rng.normal(0.0, 0.7, w.shape).astype(DTYPE) for w in layer.get_weights()]
    )
    _, _, grad_x, grad_weights = loss_and_grads(layer, x)
    loss = loss_function(layer)
    values = [to_numpy(v) for v in layer.trainable_variables]
    for index in [(0, 0, 0), (1, 2, 1), (1, 3, 2)]:
        plus, minus = x.copy(), x.copy()
        plus[index] += EPS
        minus[index] -= EPS
        numeric = (loss(plus, values) - loss(minus, values)) / (2 * EPS)
        np.testing.assert_allclose(grad_x[index], numeric, rtol=RTOL, atol=GRAD_ATOL)
    for n, grad in enumerate(grad_weights):
        value = values[n]
        for flat in rng.choice(value.size, size=3, replace=False):
            index = np.unravel_index(flat, value.shape)
            losses = []
            for sign in (1, -1):
                shifted = value.copy()
                shifted[index] += sign * EPS
                losses.append(loss(x, values[:n] + [shifted] + values[n + 1 :]))
            numeric = (losses[0] - losses[1]) / (2 * EPS)
            np.testing.assert_allclose(grad[index], numeric, rtol=RTOL, atol=GRAD_ATOL)


def test_initialization():
    layer = SLSTM(6, num_heads=2, recurrent_initializer="zeros")
    layer.build((2, 3, 5))
    bias = to_numpy(layer.cell.bias)
    np.testing.assert_allclose(bias[6:12], [3, 4.5, 6, 3, 4.5, 6])
    np.testing.assert_array_equal(np.delete(bias, np.s_[6:12]), 0.0)
    exponential = SLSTM(
        6, num_heads=2, forget_gate="exponential", recurrent_initializer="zeros"
    )
    exponential.build((2, 3, 5))
    f = np.exp(to_numpy(exponential.cell.bias)[6:12])
    np.testing.assert_allclose(f, ref.sigmoid(bias[6:12]), rtol=1e-6)
    plain = SLSTM(
        6, unit_forget_bias=False, bias_initializer="ones", kernel_initializer="zeros"
    )
    plain.build((2, 3, 5))
    np.testing.assert_array_equal(to_numpy(plain.cell.bias), 1.0)


def test_config_round_trip():
    layer = SLSTM(
        6,
        num_heads=3,
        forget_gate="exponential",
        recurrent_dropout=0.1,
        recurrent_dropout_mode="semeniuta",
        zoneout_cell=0.2,
        go_backwards=True,
    )
    config = layer.get_config()
    assert "cell_clip" not in config
    clone = SLSTM.from_config(config)
    assert clone.get_config() == config
    assert (clone.num_heads, clone.forget_gate, clone.cell.head_dim) == (
        3,
        "exponential",
        2,
    )
    cell_config = SLSTMCell(4, num_heads=2).get_config()
    assert SLSTMCell.from_config(cell_config).get_config() == cell_config
    assert SLSTMCell(4).state_size == [4, 4, 4, 4]


@pytest.mark.parametrize(
    "kwargs, argument, value",
    [
        ({"num_heads": 0}, "num_heads", 0),
        ({"num_heads": 1.5}, "num_heads", 1.5),
        ({"num_heads": 3}, "num_heads", 3),
        ({"forget_gate": "tanh"}, "forget_gate", "tanh"),
        ({"cell_clip": 1.0}, "cell_clip", 1.0),
        ({"zoneout_cell": 1.0}, "zoneout_cell", 1.0),
    ],
)
@pytest.mark.parametrize("cls", [SLSTM, SLSTMCell])
def test_argument_errors_name_the_argument(cls, kwargs, argument, value):
    with pytest.raises(ValueError, match=rf"`{argument}`[\s\S]*{argument}={value!r}"):
        cls(4, **kwargs)
