"""`MLSTM`: the NumPy references, and every form equal to the step loop.

The forms: "recurrent" (our generic loop over `MLSTMCell.step`), "parallel" (the
whole sequence as one chunk) and "chunkwise" (chunks of 3 steps over 7, so the
last chunk is padded); the ground truth for masking, go_backwards and initial
states is `keras.layers.RNN(MLSTMCell(...))`.
"""

import keras
import numpy as np
import pytest

from lstmsuite.layers.mlstm import (
    CHUNK_SIZE,
    MLSTM,
    MLSTMCell,
    _auto_chunk_size,
    forget_bias,
)
from tests.layers import reference_mlstm as ref
from tests.layers.helpers import loss_and_grads, randomize_weights, to_numpy

BATCH, TIME, FEATURES, UNITS, HEADS = 3, 7, 4, 8, 2
DIM = UNITS // HEADS
FORMS = ("recurrent", "parallel", "chunkwise")

# Leading (sample 0), middle (1) and trailing (2) masked steps.
MASK = np.ones((BATCH, TIME), bool)
MASK[0, :2] = MASK[0, 4] = MASK[1, 3] = MASK[2, 5:] = False


def inputs(seed=0, time=TIME):
    return (
        np.random.default_rng(seed)
        .normal(size=(BATCH, time, FEATURES))
        .astype("float32")
    )


def initial_state(seed=1):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(0, 0.5, (BATCH, size)).astype("float32")
        for size in (UNITS, HEADS * DIM * DIM, UNITS, HEADS)
    ]


def layer_for(form, weights=None, **kwargs):
    kwargs = {"return_sequences": True, "return_state": True, **kwargs}
    layer = MLSTM(UNITS, num_heads=HEADS, **kwargs)
    layer._form, layer._chunk_size = form, 3
    layer.build((BATCH, None, FEATURES))
    if weights is None:
        randomize_weights(layer, seed=2)
    else:
        layer.set_weights(weights)
    return layer


def forward(layer, x, **kwargs):
    """`layer(x, **kwargs)` as a list of NumPy arrays; compiled on JAX, whose
    op-by-op dispatch compiles every op of the chunkwise form for its shape."""
    if keras.backend.backend() != "jax":
        return [to_numpy(t) for t in keras.tree.flatten(layer(x, **kwargs))]
    import jax

    non_trainable = [v.value for v in layer.non_trainable_variables]

    def call(trainable, x):
        return layer.stateless_call(trainable, non_trainable, x, **kwargs)[0]

    outputs = jax.jit(call)([v.value for v in layer.trainable_variables], x)
    return [to_numpy(t) for t in keras.tree.flatten(outputs)]


def weights_of(layer):
    return {"kernel": to_numpy(layer.cell.kernel), "bias": to_numpy(layer.cell.bias)}


@pytest.mark.parametrize(
    "forget_gate, forms",
    [("sigmoid", FORMS), ("exponential", ("chunkwise",))],
)
def test_every_form_matches_the_numpy_references(forget_gate, forms):
    x, state = inputs(), initial_state()
    c0 = state[1].reshape(BATCH, HEADS, DIM, DIM).astype(np.float64)
    n0 = state[2].reshape(BATCH, HEADS, DIM).astype(np.float64)
    m0 = state[3].astype(np.float64)
    # Before the first unmasked step, Keras's JAX loop outputs the initial h,
    # its TensorFlow loop zeros.
    h0 = state[0].astype(np.float64) if keras.backend.backend() == "jax" else None
    weights = None
    for form in forms:
        layer = layer_for(form, weights, forget_gate=forget_gate)
        weights = layer.get_weights()
        w = weights_of(layer)
        kwargs = dict(w=w, num_heads=HEADS, forget_gate=forget_gate)
        outputs, h, c, n, m = forward(layer, x, initial_state=state, mask=MASK)
        expected, (c_ref, n_ref, m_ref) = ref.run(
            ref.step_stabilized,
            x,
            [c0, n0, m0],
            mask=MASK,
            first_output=h0,
            **kwargs,
        )
        np.testing.assert_allclose(outputs, expected, atol=1e-5, err_msg=form)
        np.testing.assert_allclose(c, c_ref.reshape(BATCH, -1), atol=1e-5)
        np.testing.assert_allclose(n, n_ref.reshape(BATCH, -1), atol=1e-5)
        np.testing.assert_allclose(m, m_ref, atol=1e-5)
        np.testing.assert_allclose(h, expected[:, -1], atol=1e-5)  # no trailing
    # The stabilizer cancels: the paper's unstabilized recurrence, from the same
    # state (C = exp(m) C̃), gives the same h, and C = exp(m) C̃ at the end.
    scale = np.exp(m0)[..., None]
    naive, (c_naive, n_naive) = ref.run(
        ref.step_unstabilized,
        x,
        [c0 * scale[..., None], n0 * scale],
        mask=MASK,
        first_output=h0,
        **kwargs,
    )
    np.testing.assert_allclose(naive, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c_naive, c_ref * np.exp(m_ref)[..., None, None])
    np.testing.assert_allclose(n_naive, n_ref * np.exp(m_ref)[..., None])


CASES = {
    # Masks, a nonzero initial state, every output and state.
    "mask_initial_state": dict(mask=True, state=True),
    # Processed backwards, masked steps output zeros, the last output only,
    # exponential forget gate.
    "go_backwards_zero_output_last": dict(
        mask=True,
        state=True,
        go_backwards=True,
        zero_output_for_mask=True,
        return_sequences=False,
        forget_gate="exponential",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_parallel_and_chunkwise_equal_keras_rnn_with_gradients(case):
    options = dict(CASES[case])
    call = {}
    if options.pop("mask", False):
        call["mask"] = MASK
    if options.pop("state", False):
        call["initial_state"] = initial_state()
    options = {"return_sequences": True, "return_state": True, **options}
    cell_options = {key: options.pop(key) for key in ("forget_gate",) if key in options}
    x = inputs(3)
    forms = ("chunkwise",)
    if case == "mask_initial_state":
        forms += ("parallel",)
    layers = [layer_for(form, **cell_options, **options) for form in forms]
    rnn = keras.layers.RNN(MLSTMCell(UNITS, num_heads=HEADS, **cell_options), **options)
    rnn.build((BATCH, None, FEATURES))
    rnn.set_weights(layers[0].get_weights())
    expected, _, grad_x, grad_w = loss_and_grads(rnn, x, **call)
    for form, layer in zip(forms, layers):
        outputs, _, layer_grad_x, layer_grad_w = loss_and_grads(layer, x, **call)
        for got, want in zip(outputs, expected):
            np.testing.assert_allclose(got, want, atol=1e-5, err_msg=form)
        np.testing.assert_allclose(layer_grad_x, grad_x, atol=1e-5, err_msg=form)
        for got, want in zip(layer_grad_w, grad_w):
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5, err_msg=form)


def test_large_gate_preactivations_stay_finite():
    """ĩ and f̃ at +80 (head 0) and -80 (head 1; log f = -80, as an exponential
    forget gate at -80): exp(80) alone would overflow a float32 memory within 2
    steps; the stabilized forms stay finite and agree (to float32's resolution
    at 80, 8e-6 absolute, which exp() turns into relative errors of 1e-5)."""
    x = inputs(4)
    results = []
    for form in ("recurrent", "chunkwise"):
        layer = layer_for(form)
        kernel, bias = layer.get_weights()
        bias[4 * UNITS :] = [80.0, -80.0] * 2  # ĩ then f̃, one per head
        layer.set_weights([kernel, bias])
        results.append(loss_and_grads(layer, x, mask=MASK))
    for (outputs, loss, grad_x, grad_w), form in zip(results, ("recurrent", "chunk")):
        for value in [*outputs, loss, grad_x, *grad_w]:
            assert np.all(np.isfinite(value)), form
    (expected, _, grad_x, grad_w), (outputs, _, got_x, got_w) = results
    for got, want in zip(outputs, expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    for got, want in zip([got_x, *got_w], [grad_x, *grad_w]):
        # The bias gradient reaches 1e4 (through m, ~80 per step): relative to
        # its largest entry.
        np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())


def test_a_masked_step_changes_nothing():
    x = inputs(5)
    inserted = np.concatenate([x[:, :3], inputs(6)[:, :1] * 10, x[:, 3:]], axis=1)
    mask = np.ones((BATCH, TIME + 1), bool)
    mask[:, 3] = False
    layer = layer_for("chunkwise")
    plain = forward(layer, x)
    masked = forward(layer, inserted, mask=mask)
    np.testing.assert_allclose(masked[0][:, :3], plain[0][:, :3], atol=1e-6)
    np.testing.assert_allclose(masked[0][:, 3], plain[0][:, 2], atol=1e-6)
    np.testing.assert_allclose(masked[0][:, 4:], plain[0][:, 3:], atol=1e-5)
    for got, want in zip(masked[1:], plain[1:]):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_dropout_is_the_same_in_every_form():
    """Input dropout and the Semeniuta mask on v: one mask per sequence, the same
    draws in the step loop and the chunkwise form."""
    x = inputs(7)
    options = dict(
        dropout=0.25,
        recurrent_dropout=0.5,
        recurrent_dropout_mode="semeniuta",
        seed=3,
    )
    outputs = [
        forward(layer_for(form, **options), x, training=True)[0]
        for form in ("recurrent", "chunkwise")
    ]
    np.testing.assert_allclose(outputs[1], outputs[0], atol=1e-5)
    inference = forward(layer_for("chunkwise", **options), x)[0]
    assert not np.allclose(inference, outputs[0], atol=1e-3)


@pytest.mark.parametrize("forget_gate", ["sigmoid", "exponential"])
def test_xlstm_forget_gate_initialization(forget_gate):
    layer = MLSTM(8, num_heads=4, forget_gate=forget_gate)
    layer.build((2, 3, 5))
    bias = to_numpy(layer.cell.bias)
    f = 1 / (1 + np.exp(-bias[-4:]))
    if forget_gate == "exponential":
        f = np.exp(bias[-4:])
    np.testing.assert_allclose(f, 1 / (1 + np.exp(-np.linspace(3, 6, 4))), rtol=1e-6)
    np.testing.assert_array_equal(bias[:-4], 0.0)
    assert forget_bias(1, "sigmoid") == [3.0]
    layer = MLSTM(8, num_heads=4, unit_forget_bias=False, bias_initializer="ones")
    layer.build((2, 3, 5))
    np.testing.assert_array_equal(to_numpy(layer.cell.bias), 1.0)


def test_auto_form_splits_a_sequence_into_even_chunks():
    assert _auto_chunk_size(7) == 7  # one chunk: the parallel form
    assert _auto_chunk_size(CHUNK_SIZE) == CHUNK_SIZE
    assert _auto_chunk_size(100) == 50
    assert _auto_chunk_size(1000) == 63
    assert _auto_chunk_size(None) == CHUNK_SIZE


def test_config_round_trip():
    layer = MLSTM(
        8,
        num_heads=2,
        forget_gate="exponential",
        recurrent_dropout=0.1,
        recurrent_dropout_mode="semeniuta",
        return_sequences=True,
        go_backwards=True,
    )
    config = layer.get_config()
    for name in ("recurrent_initializer", "zoneout_cell", "cell_clip", "activation"):
        assert name not in config
    clone = MLSTM.from_config(config)
    assert clone.get_config() == config
    assert (clone.num_heads, clone.forget_gate) == (2, "exponential")
    cell = MLSTMCell(4, num_heads=4)
    assert MLSTMCell.from_config(cell.get_config()).get_config() == cell.get_config()
    assert cell.state_size == [4, 4, 4, 4]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(units=6, num_heads=4), "num_heads"),
        (dict(units=8, num_heads=0), "num_heads"),
        (dict(units=8, forget_gate="tanh"), "forget_gate"),
        (dict(units=8, recurrent_dropout=0.2), "recurrent_dropout_mode"),
        (dict(units=8, zoneout_cell=0.1), "zoneout_cell"),
        (dict(units=8, dropout=1.5), "dropout"),
    ],
)
def test_argument_errors_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        MLSTM(**kwargs)
