"""The probes: stepping a recurrent layer by hand reproduces the model, the state
gradients are those of the loss, a plain RNN's vanish, and the LSTM gates
recompute the layer's state."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from lstmsuite.apps.long_range.app import LongRangeModelConfig
from lstmsuite.apps.long_range.model import CHRONO_CELLS, build_model
from lstmsuite.apps.long_range.probes import (
    lstm_gates,
    state_gradient_norms,
    step_through,
)
from lstmsuite.layers import CELLS
from tests.layers.numpy_reference import sigmoid

TOKENS = {"vocab": 10, "features": 0, "output": "sequence", "classes": 10}
VALUES = {"vocab": 0, "features": 2, "output": "last", "classes": 1}
OPTIONS = {"lstmp": {"proj_units": 3}, "mlstm": {"num_heads": 2}}


def model_for(cell, spec=VALUES, units=4, **extra):
    cfg = LongRangeModelConfig(
        cell=cell, units=units, cell_options=OPTIONS.get(cell, {}), **extra
    )
    return build_model(cfg, spec, seed=3)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_stepping_the_cell_reproduces_the_model(cell):
    x = np.random.default_rng(0).integers(0, 10, (2, 7)).astype("int32")
    model = model_for(cell, TOKENS)
    expected = model(x)
    np.testing.assert_allclose(step_through(model, x), expected, atol=2e-5)
    perturb = []  # zeros added to the states change nothing
    np.testing.assert_allclose(step_through(model, x, perturb), expected, atol=2e-5)
    assert len(perturb) == 7


def test_state_gradients_match_a_finite_difference():
    model = model_for("lstm", units=5)
    x = np.random.default_rng(1).uniform(size=(3, 9, 2)).astype("float32")
    y = np.ones((3, 1), "float32")
    loss = keras.losses.MeanSquaredError(reduction=None)
    norms = state_gradient_norms(model, x, y, loss)
    assert norms.shape == (9,) and (norms > 0).all()

    # d/de of the total loss when the state after step 4 of example 0 moves
    # along its own gradient: a finite difference gives the gradient's norm.
    perturb = []
    with tf.GradientTape() as tape:
        out = step_through(model, x, perturb)
        tape.watch(perturb)
        total = tf.reduce_sum(loss(y, out))
    grads = [g.numpy() for g in tape.gradient(total, perturb[4])]
    direction = [g[0] for g in grads]
    scale = np.sqrt(sum((d**2).sum() for d in direction))

    def total_loss(eps):
        bumped = [g * 0 for g in grads]
        for b, d in zip(bumped, direction):
            b[0] = eps * d / scale
        return _loss_with_bump(model, x, y, loss, 4, bumped)

    eps = 1e-2
    slope = (total_loss(eps) - total_loss(-eps)) / (2 * eps)
    assert slope == pytest.approx(scale, rel=2e-2)


def _loss_with_bump(model, x, y, loss, step, bump):
    """The summed loss with `bump` added to the states after `step`."""
    from lstmsuite.apps.long_range import probes

    original = probes.tf.zeros_like
    calls = {"n": 0}

    def zeros_like(s):
        k = calls["n"]
        calls["n"] += 1
        states = len(bump)
        if k // states == step:
            return tf.constant(bump[k % states], s.dtype)
        return original(s)

    probes.tf.zeros_like = zeros_like
    try:
        out = step_through(model, x, [])
    finally:
        probes.tf.zeros_like = original
    return float(tf.reduce_sum(loss(y, out)))


def test_a_plain_rnn_with_small_weights_has_vanishing_state_gradients():
    model = model_for("simple_rnn", units=6)
    layer = model.get_layer("recurrent0")
    layer.cell.recurrent_kernel.assign(0.3 * np.eye(6, dtype="float32"))
    x = np.random.default_rng(2).uniform(size=(4, 20, 2)).astype("float32")
    norms = state_gradient_norms(
        model,
        x,
        np.ones((4, 1), "float32"),
        keras.losses.MeanSquaredError(reduction=None),
    )
    # Each step back multiplies by at most 0.3 (tanh' <= 1): geometric decay.
    assert (np.diff(norms) > 0).all()
    assert 0 < norms[0] < 1e-8 * norms[-1]
    assert norms[-2] <= 0.3 * norms[-1] * 1.0001


def test_lstm_gates_recompute_the_layer_state():
    model = model_for("lstm", TOKENS, units=5)
    x = np.random.default_rng(3).integers(0, 10, (1, 12)).astype("int32")
    gates = lstm_gates(model, x)
    assert set(gates) == {"input", "forget", "output", "cell"}
    assert all(g.shape == (12, 5) for g in gates.values())
    for name in ("input", "forget", "output"):
        assert ((gates[name] > 0) & (gates[name] < 1)).all()
    layer = model.get_layer("recurrent0")
    embedded = model.get_layer("one_hot")(x)
    h, c = layer.cell.get_initial_state(1)
    for t in range(12):
        _, (h, c) = layer.cell(embedded[:, t], [h, c])
    np.testing.assert_allclose(gates["cell"][-1], np.asarray(c)[0], atol=1e-5)
    with pytest.raises(ValueError, match="model.cell: lstm"):
        lstm_gates(model_for("gru", TOKENS), x)


@pytest.mark.parametrize("cell", CHRONO_CELLS[:3])
def test_chrono_init_spreads_the_forget_biases(cell):
    model = model_for(cell, units=32, chrono_init=600)
    cell_ = model.get_layer("recurrent0").cell
    bias = np.asarray(cell_.bias).reshape(cell_.gate_blocks, 32)
    forget = bias[cell_.forget_block]
    assert (forget >= 0).all() and (forget <= np.log(599) + 1e-5).all()
    assert forget.std() > 0.5
    if cell_.gate_blocks == 4:
        np.testing.assert_allclose(bias[0], -forget)


@pytest.mark.parametrize("cell", ["minlstm", "mingru"])
def test_chrono_init_gives_the_minimal_rnns_the_lstms_time_scales(cell):
    """A minimal RNN's state is a leaky sum h = a h + b: after chrono init, with
    the input at zero, its kept share a is u / (1 + u) for u in [1, T_max - 1],
    the LSTM's forget gate sigma(log u), so its memory spans up to T_max steps."""
    model = model_for(cell, units=32, chrono_init=600)
    cell_ = model.get_layer("recurrent0").cell
    bias = np.asarray(cell_.bias).reshape(cell_.gate_blocks, 32)
    if cell == "minlstm":
        f, i = sigmoid(bias[1]), sigmoid(bias[0])
        kept = f / (f + i)
        u = np.exp(bias[1])
    else:
        kept = 1.0 - sigmoid(bias[0])
        u = np.exp(-bias[0])
    assert (u >= 1 - 1e-5).all() and (u <= 599 + 1e-3).all() and u.std() > 50
    np.testing.assert_allclose(kept, u / (1 + u), rtol=1e-5)
    # The layer's own coefficients on a zero input: the same kept share.
    z = np.broadcast_to(np.asarray(cell_.bias), (1, cell_.gate_blocks * 32))
    a = np.asarray(cell_.coefficients(keras.ops.convert_to_tensor(z))[0])
    np.testing.assert_allclose(a[0], kept, rtol=1e-5)


def test_gradient_flow_plot_names_the_probe_length(tmp_path, monkeypatch):
    """The probe's length labels the axis: parity trains on T<=40 but is probed
    on its longest test bucket, which the title alone would misstate."""
    from lstmsuite.apps.long_range import figures
    from lstmsuite.apps.long_range.app import LongRangeConfig, task_title
    from lstmsuite.pipelines import plots

    drawn = {}
    monkeypatch.setattr(plots, "save", lambda fig, out: drawn.setdefault("fig", fig))
    curves = {"lstm": {"trained": [1.0] * 7, "untrained": [0.5] * 7}}
    figures.gradient_flow_plot(curves, tmp_path / "g.png", "parity")
    (ax,) = drawn["fig"].axes
    assert ax.get_xlabel().endswith("(T=7)")
    cfg = LongRangeConfig()
    cfg.data.source, cfg.data.length = "parity", 40
    assert task_title(cfg) == "parity, trained on T<=40"
