"""Parity of our layers with the Keras layers they imitate (used by test_lstm/gru)."""

from __future__ import annotations

import keras
import numpy as np

from tests.layers.helpers import (
    BATCH,
    FEATURES,
    TIME,
    UNITS,
    loss_and_grads,
    randomize_weights,
    to_numpy,
)

ATOL = 1e-5

# Sequences of different lengths (right padding): 5, 3 and 1 valid steps.
LENGTHS = (TIME, 3, 1)
MASK = np.arange(TIME)[None, :] < np.array(LENGTHS)[:, None]

# (id, layer arguments, call arguments). `initial_state` is filled in per layer.
# (Plain `return_sequences` and the default are covered by the cases with state.)
CASES = [
    ("return_state", {"return_state": True}, {}),
    ("sequences_and_state", {"return_sequences": True, "return_state": True}, {}),
    (
        "go_backwards",
        {"go_backwards": True, "return_sequences": True, "return_state": True},
        {},
    ),
    ("unroll", {"unroll": True, "return_sequences": True, "return_state": True}, {}),
    ("mask", {"return_sequences": True, "return_state": True}, {"mask": MASK}),
    ("mask_last_output", {"return_state": True}, {"mask": MASK}),
    (
        "mask_go_backwards",
        {"go_backwards": True, "return_sequences": True, "return_state": True},
        {"mask": MASK},
    ),
    (
        "mask_unroll",
        {"unroll": True, "return_sequences": True, "return_state": True},
        {"mask": MASK},
    ),
    (
        "mask_zero_output",
        {"zero_output_for_mask": True, "return_sequences": True},
        {"mask": MASK},
    ),
    ("initial_state", {"return_state": True}, {"initial_state": True}),
    (
        "initial_state_backwards_unroll",
        {"return_state": True, "go_backwards": True, "unroll": True},
        {"initial_state": True},
    ),
]
CASE_IDS = [case[0] for case in CASES]


def initial_state(n_states, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(n_states)]


def call_kwargs(case_kwargs, n_states):
    kwargs = dict(case_kwargs)
    if kwargs.pop("initial_state", False):
        kwargs["initial_state"] = initial_state(n_states)
    return kwargs


def make_pair(ref_class, our_class, layer_kwargs, seed=0):
    """A Keras layer and ours, built, with the same random weights."""
    ref = ref_class(UNITS, **layer_kwargs)
    ours = our_class(UNITS, **layer_kwargs)
    shape = (BATCH, TIME, FEATURES)
    ref.build(shape)
    ours.build(shape)
    randomize_weights(ref, seed=seed)
    ours.set_weights(ref.get_weights())
    return ref, ours


def assert_same_outputs(ref_outputs, our_outputs, atol=ATOL):
    ref_list = keras.tree.flatten(ref_outputs)
    our_list = keras.tree.flatten(our_outputs)
    assert len(ref_list) == len(our_list)
    for ref, ours in zip(ref_list, our_list):
        assert tuple(ref.shape) == tuple(ours.shape)
        np.testing.assert_allclose(to_numpy(ours), to_numpy(ref), atol=atol)


def check_outputs_and_gradients(ref, ours, x, **kwargs):
    ref_out, ref_loss, ref_gx, ref_gw = loss_and_grads(ref, x, **kwargs)
    our_out, our_loss, our_gx, our_gw = loss_and_grads(ours, x, **kwargs)
    assert_same_outputs(ref_out, our_out)
    np.testing.assert_allclose(our_loss, ref_loss, atol=ATOL)
    assert np.abs(ref_gx).max() > 0
    np.testing.assert_allclose(our_gx, ref_gx, atol=ATOL)
    assert len(our_gw) == len(ref_gw) > 0
    for ours_g, ref_g in zip(our_gw, ref_gw):
        np.testing.assert_allclose(ours_g, ref_g, atol=ATOL)


def check_case(ref_class, our_class, layer_kwargs, case, n_states, seed=0):
    """One of CASES: outputs, final states and gradients equal."""
    _, case_layer_kwargs, case_call_kwargs = case
    ref, ours = make_pair(
        ref_class, our_class, {**layer_kwargs, **case_layer_kwargs}, seed=seed
    )
    x = np.random.default_rng(seed + 1).normal(size=(BATCH, TIME, FEATURES))
    check_outputs_and_gradients(
        ref, ours, x.astype("float32"), **call_kwargs(case_call_kwargs, n_states)
    )


def check_stateful(ref_class, our_class, layer_kwargs):
    """`stateful=True` carries states between batches; `reset_state()` clears them."""
    ref, ours = make_pair(
        ref_class,
        our_class,
        {**layer_kwargs, "stateful": True, "return_sequences": True},
    )
    rng = np.random.default_rng(5)
    x1, x2 = (rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32") for _ in "12")
    first = to_numpy(ours(x1))
    assert_same_outputs(ref(x1), first)
    second = to_numpy(ours(x2))
    assert_same_outputs(ref(x2), second)
    for ref_state, our_state in zip(ref.states, ours.states):
        np.testing.assert_allclose(to_numpy(our_state), to_numpy(ref_state), atol=ATOL)
    ref.reset_state()
    ours.reset_state()
    for state in ours.states:
        np.testing.assert_array_equal(to_numpy(state), 0.0)
    again = ours(x1)
    assert_same_outputs(ref(x1), again)
    np.testing.assert_allclose(to_numpy(again), first, atol=ATOL)
    # The second batch had started from the first batch's final state.
    ours.reset_state()
    assert not np.allclose(to_numpy(ours(x2)), second, atol=1e-3)


def check_bidirectional(ref_class, our_class, layer_kwargs, merge_mode, mask):
    ref = keras.layers.Bidirectional(
        ref_class(UNITS, return_sequences=True, return_state=True, **layer_kwargs),
        merge_mode=merge_mode,
    )
    ours = keras.layers.Bidirectional(
        our_class(UNITS, return_sequences=True, return_state=True, **layer_kwargs),
        merge_mode=merge_mode,
    )
    shape = (BATCH, TIME, FEATURES)
    ref.build(shape)
    ours.build(shape)
    randomize_weights(ref, seed=7)
    ours.set_weights(ref.get_weights())
    x = np.random.default_rng(8).normal(size=shape).astype("float32")
    kwargs = {"mask": MASK} if mask else {}
    check_outputs_and_gradients(ref, ours, x, **kwargs)


def check_embedding_mask(ref_class, our_class, layer_kwargs):
    """`Embedding(mask_zero=True)` masks the padded steps (different lengths)."""
    tokens = np.zeros((BATCH, TIME), "int32")
    rng = np.random.default_rng(9)
    for b, length in enumerate(LENGTHS):
        tokens[b, :length] = rng.integers(1, 10, size=length)

    def model(layer_class):
        inputs = keras.Input((TIME,), dtype="int32")
        x = keras.layers.Embedding(10, FEATURES, mask_zero=True)(inputs)
        x = keras.layers.Bidirectional(
            layer_class(UNITS, return_sequences=True, **layer_kwargs)
        )(x)
        x = layer_class(UNITS, **layer_kwargs)(x)
        return keras.Model(inputs, x)

    ref, ours = model(ref_class), model(our_class)
    randomize_weights(ref, seed=10)
    ours.set_weights(ref.get_weights())
    out = to_numpy(ours(tokens))
    assert_same_outputs(ref(tokens), out)
    # The shortest sequence gives the same result alone, without padding.
    alone = to_numpy(ours(tokens[2:, :1]))
    np.testing.assert_allclose(out[2:], alone, atol=ATOL)


def check_masking_layer(ref_class, our_class, layer_kwargs):
    """`keras.layers.Masking` masks the padded steps (different lengths)."""
    x = np.random.default_rng(11).normal(size=(BATCH, TIME, FEATURES))
    x = (x * MASK[:, :, None]).astype("float32")

    def model(layer_class):
        inputs = keras.Input((TIME, FEATURES))
        masked = keras.layers.Masking(0.0)(inputs)
        outputs = layer_class(UNITS, return_state=True, **layer_kwargs)(masked)
        return keras.Model(inputs, outputs)

    ref, ours = model(ref_class), model(our_class)
    randomize_weights(ref, seed=12)
    ours.set_weights(ref.get_weights())
    assert_same_outputs(ref(x), ours(x))
