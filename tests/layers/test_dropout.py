"""Dropout and zoneout semantics (`layers/dropout.py`) for every cell."""

import keras
import numpy as np
import pytest

from lstmsuite.layers import CELLS
from tests.layers import numpy_reference as ref_np
from tests.layers.helpers import (
    BATCH,
    FEATURES,
    PROJ,
    TIME,
    UNITS,
    VARIANTS,
    cell_weights,
    randomize_weights,
    to_numpy,
)

ATOL = 1e-5
LSTM_FAMILY = ["lstm", "peephole", "cifg", "lstmp", "layernorm"]
ALL = list(VARIANTS)


def make_layer(variant, units=UNITS, weight_seed=0, **kwargs):
    """A built layer with random weights drawn from `weight_seed`."""
    layer_class, _, fixed, _, _ = VARIANTS[variant]
    layer = layer_class(
        units, return_sequences=True, return_state=True, **fixed, **kwargs
    )
    layer.build((BATCH, TIME, FEATURES))
    randomize_weights(layer, seed=weight_seed, scale=0.8)
    return layer


def inputs(seed=1, time=TIME):
    return np.random.default_rng(seed).normal(size=(BATCH, time, FEATURES))


def initial_states(layer, seed=2):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(BATCH, size)).astype("float32")
        for size in layer.cell.state_size
    ]


def reference(variant, layer, x, states, **kwargs):
    _, _, _, step, fixed = VARIANTS[variant]
    return ref_np.run(step, x, states, cell_weights(layer), **fixed, **kwargs)


def record(monkeypatch, obj, name):
    """Wraps `obj.name` so that every non-None value it returns is recorded."""
    seen = []
    original = getattr(obj, name)

    def wrapper(*args, **kwargs):
        value = original(*args, **kwargs)
        if value is not None:
            seen.append(to_numpy(value))
        return value

    monkeypatch.setattr(obj, name, wrapper)
    return seen


def assert_outputs(layer_outputs, expected_outputs, expected_states):
    outputs, *states = layer_outputs
    np.testing.assert_allclose(to_numpy(outputs), expected_outputs, atol=ATOL)
    for state, expected in zip(states, expected_states):
        np.testing.assert_allclose(to_numpy(state), expected, atol=ATOL)


@pytest.mark.parametrize("mode", ["variational", "semeniuta"])
@pytest.mark.parametrize("variant", ALL)
def test_one_dropout_mask_per_sequence(variant, mode, monkeypatch):
    """The masks drawn for a sequence, applied at every step, explain the output.

    The NumPy reference re-runs the steps with the layer's own input mask and
    recurrent mask (on h(t-1) for variational, on g(t) for semeniuta), the same
    at every step; the result must equal the layer's training-time output.
    """
    rate, recurrent_rate = 0.3, 0.4
    layer = make_layer(
        variant,
        dropout=rate,
        recurrent_dropout=recurrent_rate,
        recurrent_dropout_mode=mode,
        seed=3,
    )
    input_masks = record(monkeypatch, layer.cell, "get_dropout_mask")
    recurrent_masks = record(monkeypatch, layer.cell, "get_recurrent_dropout_mask")
    x = inputs().astype("float32")
    states = initial_states(layer)
    result = layer(x, initial_state=states, training=True)

    assert input_masks and recurrent_masks
    x_mask, recurrent_mask = input_masks[-1], recurrent_masks[-1]
    for masks in (input_masks, recurrent_masks):
        for mask in masks:  # one mask per sequence, however often it is asked for
            np.testing.assert_array_equal(mask, masks[0])
    assert x_mask.shape == (BATCH, FEATURES)
    width = layer.cell.units if mode == "semeniuta" else layer.cell.output_size
    assert recurrent_mask.shape == (BATCH, width)
    for mask, p in ((x_mask, rate), (recurrent_mask, recurrent_rate)):
        dropped, kept = mask == 0.0, np.isclose(mask, 1 / (1 - p))
        assert np.all(dropped | kept) and dropped.any() and kept.any()

    mask_arg = "h_mask" if mode == "variational" else "g_mask"
    expected, expected_states = reference(
        variant, layer, x, states, x_mask=x_mask, **{mask_arg: recurrent_mask}
    )
    assert_outputs(result, expected, expected_states)
    # ... and the masks did matter.
    plain, _ = reference(variant, layer, x, states)
    assert not np.allclose(plain, expected, atol=1e-3)


def _gate_biases(variant, layer, forget, input_gate):
    """All weights zero; the forget and input gates forced open/closed by bias."""
    layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    units = layer.cell.units
    bias = np.zeros(layer.cell.bias.shape, "float32")
    forget_block = 0 if variant == "cifg" else 1
    bias[forget_block * units : (forget_block + 1) * units] = forget
    if variant != "cifg":  # CIFG: the input gate is 1 - f
        bias[:units] = input_gate
    layer.cell.bias.assign(bias)


@pytest.mark.parametrize("variant", LSTM_FAMILY)
def test_semeniuta_never_drops_the_cell_state(variant):
    """f = 1, i = 0: c is carried unchanged, even with semeniuta dropout at 0.9."""
    layer = make_layer(
        variant, recurrent_dropout=0.9, recurrent_dropout_mode="semeniuta", seed=1
    )
    _gate_biases(variant, layer, forget=40.0, input_gate=-40.0)
    states = initial_states(layer)
    _, _, c = layer(inputs().astype("float32"), initial_state=states, training=True)
    np.testing.assert_allclose(to_numpy(c), states[1], atol=ATOL)


@pytest.mark.parametrize("variant", LSTM_FAMILY)
def test_semeniuta_drops_the_candidate(variant):
    """f = 0, i = 1: c(t) = mask * g(t), each unit 0 or g / (1 - rate)."""
    rate = 0.5
    layer = make_layer(
        variant,
        units=8,
        recurrent_dropout=rate,
        recurrent_dropout_mode="semeniuta",
        seed=1,
    )
    _gate_biases(variant, layer, forget=-40.0, input_gate=40.0)
    units = layer.cell.units
    kernel = np.random.default_rng(0).normal(size=tuple(layer.cell.kernel.shape))
    layer.cell.kernel.assign(kernel.astype("float32"))
    x = inputs(time=1).astype("float32")
    z = x[:, 0] @ kernel
    if variant == "layernorm":
        layer.cell.input_norm_gamma.assign(np.ones(4 * units, "float32"))
        z = ref_np.layer_norm(z, 1.0, 0.0)
    _, _, c = layer(x, initial_state=initial_states(layer), training=True)
    c = to_numpy(c)
    g_block = 1 if variant == "cifg" else 2
    g = np.tanh(z[:, g_block * units : (g_block + 1) * units])
    dropped = np.isclose(c, 0.0, atol=ATOL)
    kept = np.isclose(c, g / (1 - rate), atol=ATOL)
    assert np.all(dropped | kept)
    assert dropped.any() and (kept & ~dropped).any()


@pytest.mark.parametrize("variant", ALL)
def test_zoneout_at_inference_is_the_expectation(variant):
    """h = p_h h(t-1) + (1 - p_h) h_new, c likewise; h_new from the un-zoned c."""
    p_c = 0.0 if variant.startswith("gru") else 0.3
    p_h = 0.6
    zoned = make_layer(variant, zoneout_cell=p_c, zoneout_hidden=p_h)
    plain = make_layer(variant)
    x = inputs(time=1).astype("float32")
    states = initial_states(plain)
    _, *new = plain(x, initial_state=states, training=False)
    _, *mixed = zoned(x, initial_state=states, training=False)
    rates = [p_h, p_c]
    for state, previous, fresh, p in zip(mixed, states, new, rates):
        expected = p * previous + (1 - p) * to_numpy(fresh)
        np.testing.assert_allclose(to_numpy(state), expected, atol=ATOL)


@pytest.mark.parametrize("variant", ALL)
def test_zoneout_in_training_keeps_old_or_takes_new(variant):
    """Each unit of h and c is either its previous value or the new one."""
    p_c = 0.0 if variant.startswith("gru") else 0.5
    zoned = make_layer(variant, units=8, zoneout_cell=p_c, zoneout_hidden=0.5, seed=4)
    plain = make_layer(variant, units=8)
    x = inputs(time=1).astype("float32")
    states = initial_states(plain)
    _, *new = plain(x, initial_state=states, training=True)
    _, *mixed = zoned(x, initial_state=states, training=True)
    rates = [0.5, p_c]
    for state, previous, fresh, p in zip(mixed, states, new, rates):
        state, fresh = to_numpy(state), to_numpy(fresh)
        kept = np.isclose(state, previous, atol=ATOL)
        took = np.isclose(state, fresh, atol=ATOL)
        assert np.all(kept | took)
        if p:
            assert (kept & ~took).any() and (took & ~kept).any()


@pytest.mark.parametrize("variant", ALL)
def test_zoneout_in_training_matches_reference_with_its_masks(variant, monkeypatch):
    """Over a sequence, a fresh zoneout mask per step: re-run with those masks."""
    p_c = 0.0 if variant.startswith("gru") else 0.3
    layer = make_layer(variant, zoneout_cell=p_c, zoneout_hidden=0.4, seed=5)
    drawn = record(monkeypatch, layer.cell, "_zoneout_mask")
    x = inputs().astype("float32")
    states = initial_states(layer)
    result = layer(x, initial_state=states, training=True)
    names = (["zoneout_cell"] if p_c else []) + ["zoneout_hidden"]
    assert len(drawn) == len(names)
    # The loop may work batch-major or time-major (BATCH != TIME tells which).
    drawn = [m if m.shape[:2] == (BATCH, TIME) else m.transpose(1, 0, 2) for m in drawn]
    for mask in drawn:
        assert mask.shape[:2] == (BATCH, TIME)
        assert set(np.unique(mask)) <= {0.0, 1.0}
        # Not the same mask at every step.
        assert any(not np.array_equal(mask[:, 0], mask[:, t]) for t in range(TIME))
    expected, expected_states = reference(
        variant, layer, x, states, zoneout_masks=dict(zip(names, drawn))
    )
    assert_outputs(result, expected, expected_states)


# Each variant with one of the two recurrent dropout modes, alternating.
VARIANT_MODES = [
    (variant, ("variational", "semeniuta")[n % 2]) for n, variant in enumerate(ALL)
]


@pytest.mark.parametrize("variant, mode", VARIANT_MODES)
def test_no_dropout_at_inference(variant, mode):
    regularized = make_layer(
        variant, dropout=0.5, recurrent_dropout=0.5, recurrent_dropout_mode=mode
    )
    plain = make_layer(variant)
    x = inputs().astype("float32")
    expected = [to_numpy(t) for t in plain(x)]
    for training in (False, None):
        kwargs = {} if training is None else {"training": training}
        for ours, ref in zip(regularized(x, **kwargs), expected):
            np.testing.assert_allclose(to_numpy(ours), ref, atol=ATOL)
    trained = to_numpy(regularized(x, training=True)[0])
    assert not np.allclose(trained, expected[0], atol=1e-3)


REGULARIZED = {
    "dropout": 0.3,
    "recurrent_dropout": 0.3,
    "zoneout_hidden": 0.2,
}


@pytest.mark.parametrize(
    "variant, mode",
    [(v, ("variational", "semeniuta")[n % 2 - 1]) for n, v in enumerate(ALL)],
)
def test_seed_makes_training_reproducible(variant, mode):
    kwargs = dict(REGULARIZED, recurrent_dropout_mode=mode)
    if not variant.startswith("gru"):
        kwargs["zoneout_cell"] = 0.2
    first = make_layer(variant, seed=11, **kwargs)
    same = make_layer(variant, seed=11, **kwargs)
    other = make_layer(variant, seed=12, **kwargs)
    x = inputs().astype("float32")
    out_first = to_numpy(first(x, training=True)[0])
    np.testing.assert_allclose(to_numpy(same(x, training=True)[0]), out_first)
    assert not np.allclose(to_numpy(other(x, training=True)[0]), out_first)
    # A second batch draws new masks.
    assert not np.allclose(to_numpy(first(x, training=True)[0]), out_first)


# Every cell that has zoneout, with its fixed arguments; GRU and the plain RNN
# have no cell state to zone out.
ZONED_CELLS = {
    "lstm": {"zoneout_cell": 0.2},
    "peephole": {"zoneout_cell": 0.2},
    "cifg": {"zoneout_cell": 0.2},
    "lstmp": {"zoneout_cell": 0.2, "proj_units": PROJ},
    "layernorm": {"zoneout_cell": 0.2},
    "gru": {},
    "slstm": {"zoneout_cell": 0.2},
    "mogrifier": {"zoneout_cell": 0.2},
    "simple_rnn": {},
}


@pytest.mark.parametrize("name", list(ZONED_CELLS))
def test_zoneout_trains_on_batches_of_any_length(name):
    """Padded batches of a new length each step, as `tf.data` buckets give: the
    traced training step sees an unknown time dimension and a mask."""
    layer = CELLS[name](
        UNITS, zoneout_hidden=0.2, recurrent_dropout=0.2, seed=3, **ZONED_CELLS[name]
    )
    model = keras.Sequential(
        [keras.Input((None, FEATURES)), keras.layers.Masking(), layer]
    )
    model.compile(optimizer="sgd", loss="mse")
    before = [to_numpy(w).copy() for w in model.trainable_weights]
    target = np.zeros((BATCH, model.output_shape[-1]), "float32")
    for time in (3, 6, 4, 7):
        x = inputs(seed=time, time=time).astype("float32")
        x[0, time - 2 :] = 0.0  # padding, masked
        loss = model.train_on_batch(x, target)
        assert np.isfinite(loss)
    after = [to_numpy(w) for w in model.trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(after, before))
