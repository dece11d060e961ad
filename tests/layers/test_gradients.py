"""Finite-difference checks of the gradients of every cell.

Float64 where the backend computes in float64 (TensorFlow); JAX without x64 computes
in float32, so there the step and the tolerance are looser.
"""

import numpy as np
import pytest

from lstmsuite.layers import CIFGLSTM, GRU, LSTM, LSTMP, LayerNormLSTM, PeepholeLSTM
from tests.layers.helpers import BACKEND, loss_and_grads, loss_function, to_numpy

if BACKEND == "tensorflow":
    DTYPE, EPS, RTOL, ATOL = "float64", 1e-6, 1e-5, 1e-8
else:
    DTYPE, EPS, RTOL, ATOL = "float32", 1e-2, 2e-2, 2e-3

LAYERS = {
    "lstm": (LSTM, {}),
    "peephole": (PeepholeLSTM, {}),
    "cifg": (CIFGLSTM, {}),
    "lstmp": (LSTMP, {"proj_units": 2}),
    "layernorm": (LayerNormLSTM, {}),
    "gru_reset_after": (GRU, {"reset_after": True}),
    "gru_reset_before": (GRU, {"reset_after": False}),
}


@pytest.mark.parametrize("variant", list(LAYERS))
def test_gradients_match_central_differences(variant):
    layer_class, kwargs = LAYERS[variant]
    layer = layer_class(
        3,
        return_sequences=True,
        return_state=True,
        zoneout_hidden=0.25,
        dtype=DTYPE,
        **kwargs,
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 3)).astype(DTYPE)
    layer.build(x.shape)
    layer.set_weights(
        [rng.normal(0.0, 0.7, w.shape).astype(DTYPE) for w in layer.get_weights()]
    )
    assert layer(x)[0].dtype == DTYPE
    _, _, grad_x, grad_weights = loss_and_grads(layer, x)
    assert len(grad_weights) == len(layer.trainable_variables)
    loss = loss_function(layer)
    values = [to_numpy(v) for v in layer.trainable_variables]

    # Inputs: a few entries, including the first and the last time step.
    for index in [(0, 0, 0), (1, 2, 1), (1, 3, 2), (0, 3, 0)]:
        plus, minus = x.copy(), x.copy()
        plus[index] += EPS
        minus[index] -= EPS
        numeric = (loss(plus, values) - loss(minus, values)) / (2 * EPS)
        np.testing.assert_allclose(grad_x[index], numeric, rtol=RTOL, atol=ATOL)

    # Two entries of every weight (kernels, biases, peepholes, norms, projection).
    for n, (variable, grad) in enumerate(zip(layer.trainable_variables, grad_weights)):
        value = values[n]
        for flat in rng.choice(value.size, size=min(2, value.size), replace=False):
            index = np.unravel_index(flat, value.shape)
            losses = []
            for sign in (1, -1):
                shifted = value.copy()
                shifted[index] += sign * EPS
                losses.append(loss(x, values[:n] + [shifted] + values[n + 1 :]))
            numeric = (losses[0] - losses[1]) / (2 * EPS)
            np.testing.assert_allclose(
                grad[index],
                numeric,
                rtol=RTOL,
                atol=ATOL,
                err_msg=f"{variable.name}{index}",
            )


@pytest.mark.parametrize("dtype", [DTYPE, "float32"])
def test_layer_norm_closed_form_gradient_matches_autodiff(dtype):
    """In training (without dropout, the same forward pass) LayerNormLSTM takes its
    LN gradient from a closed form on TensorFlow; it must equal the autodiff
    gradient used in inference mode, for inputs and every weight."""
    layer = LayerNormLSTM(4, return_sequences=True, return_state=True, dtype=dtype)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5, 2)).astype(dtype)
    layer.build(x.shape)
    layer.set_weights(
        [rng.normal(0.0, 0.7, w.shape).astype(dtype) for w in layer.get_weights()]
    )
    train = loss_and_grads(layer, x, training=True)
    infer = loss_and_grads(layer, x, training=False)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(atol=2e-5)
    np.testing.assert_allclose(train[1], infer[1], **tol)
    np.testing.assert_allclose(train[2], infer[2], **tol)
    for g_train, g_infer in zip(train[3], infer[3]):
        np.testing.assert_allclose(g_train, g_infer, **tol)


def test_layer_norm_lstm_zero_prefix_gradient_explodes_unless_masked():
    """The hazard `LayerNormLSTMCell` documents: from a zero state, zero inputs
    keep h and c exactly 0, where LN's Jacobian is gamma / sqrt(epsilon), twice a
    step, so the gradient explodes across the zero steps; masked, they pass none."""
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [np.zeros((2, 12, 3)), rng.normal(size=(2, 3, 3))], axis=1
    ).astype("float32")
    mask = np.array([[False] * 12 + [True] * 3] * 2)
    layer = LayerNormLSTM(8, seed=1)
    *_, masked = loss_and_grads(layer, x, mask=mask)
    *_, unmasked = loss_and_grads(layer, x)
    masked_max = max(np.abs(g).max() for g in masked)
    assert np.isfinite(masked_max) and masked_max < 100.0
    unmasked_max = max(np.nan_to_num(np.abs(g), nan=np.inf).max() for g in unmasked)
    assert unmasked_max > 1e6 * masked_max
