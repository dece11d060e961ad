"""`MinGRU` and `MinLSTM` (Feng et al. 2024): the paper's equations, every scan
form against the step recurrence, masks, zoneout, config and argument errors."""

import keras
import numpy as np
import pytest

from lstmsuite.layers import linear_scan
from lstmsuite.layers.min_gru import MinGRU, MinGRUCell
from lstmsuite.layers.min_lstm import MinLSTM, MinLSTMCell
from tests.layers import reference_min_rnn as ref
from tests.layers.helpers import (
    BACKEND,
    cell_weights,
    loss_and_grads,
    randomize_weights,
    to_numpy,
)

BATCH, TIME, FEATURES, UNITS = 3, 7, 4, 5
ATOL = 1e-5
PAIRS = {
    "mingru": (MinGRU, MinGRUCell, ref.min_gru_step),
    "minlstm": (MinLSTM, MinLSTMCell, ref.min_lstm_step),
}
FORMS = ["log", "chunked", "sequential", "loop"]
if BACKEND == "jax":
    FORMS.append("associative")
# A mask with masked steps at the start, in the middle and at the end.
MASK = np.ones((BATCH, TIME), bool)
MASK[0, :2] = False
MASK[1, 3] = False
MASK[2, 5:] = False


@pytest.fixture
def use_form(monkeypatch):
    # Chunks of 3 steps: the "chunked" form then pads T=7 to 3 chunks.
    monkeypatch.setattr(linear_scan, "_CHUNK", 3)
    return lambda form: monkeypatch.setattr(linear_scan, "_FORM", form)


def inputs(seed=1):
    return np.random.default_rng(seed).normal(size=(BATCH, TIME, FEATURES))


def make_layer(name, weight_seed=0, **kwargs):
    layer_class = PAIRS[name][0]
    layer = layer_class(UNITS, return_sequences=True, return_state=True, **kwargs)
    layer.build((BATCH, TIME, FEATURES))
    randomize_weights(layer, seed=weight_seed, scale=0.8)
    return layer


def recurrence(name, layer, **kwargs):
    """`keras.layers.RNN` around the cell, with `layer`'s weights."""
    cell_class = PAIRS[name][1]
    rnn = keras.layers.RNN(
        cell_class(UNITS, **kwargs),
        return_sequences=True,
        return_state=True,
        go_backwards=layer.go_backwards,
        zero_output_for_mask=layer.zero_output_for_mask,
    )
    rnn.build((BATCH, TIME, FEATURES))
    rnn.set_weights(layer.get_weights())
    return rnn


H0 = np.random.default_rng(4).normal(size=(BATCH, UNITS)).astype("float32")


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize(
    "options",
    [
        {"activation": "tanh"},
        {"activation": "min_rnn_g", "initial": True, "go_backwards": True},
        {"activation": "linear", "zoneout_hidden": 0.4, "initial": True},
    ],
    ids=["tanh", "g-initial-backwards", "linear-zoneout"],
)
def test_matches_numpy_reference(name, options):
    options = dict(options)
    initial = options.pop("initial", False)
    layer = make_layer(name, **options)
    x = inputs().astype("float32")
    h0 = H0 if initial else np.zeros((BATCH, UNITS))
    call = {"initial_state": [H0]} if initial else {}
    outputs, h = layer(x, training=False, **call)
    step_kwargs = {"activation": options["activation"]}
    if "zoneout_hidden" in options:
        step_kwargs["zoneout_hidden"] = options["zoneout_hidden"]
    expected, expected_h = ref.run(
        PAIRS[name][2],
        x,
        h0,
        cell_weights(layer),
        go_backwards=layer.go_backwards,
        **step_kwargs,
    )
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=ATOL)
    np.testing.assert_allclose(to_numpy(h), expected_h, atol=ATOL)


# The forms whose gradients each cell's test checks. JAX compiles every
# gradient (seconds each), so there MinGRU checks the CPU form only: the forms
# share everything but `coefficients`, which the CPU form checks for both cells.
GRADIENT_FORMS = {"mingru": FORMS, "minlstm": FORMS}
if BACKEND == "jax":
    GRADIENT_FORMS = {"mingru": ["sequential"], "minlstm": ["log", "associative"]}
# The forms whose training masks are compared with the step loop's ("loop").
TRAINING_FORMS = FORMS if BACKEND != "jax" else ["sequential", "loop"]


@pytest.mark.parametrize("name", list(PAIRS))
def test_forms_match_recurrence(name, use_form):
    """Outputs, final state and gradients (inputs, weights) of each scan form equal
    those of the cell's step in `keras.layers.RNN`: masked steps (leading, middle,
    trailing), `go_backwards`, `initial_state`, zoneout at inference."""
    kwargs = {"zoneout_hidden": 0.3, "activation": "min_rnn_g"}
    layer = make_layer(name, go_backwards=True, **kwargs)
    rnn = recurrence(name, layer, **kwargs)
    x = inputs().astype("float32")
    call = {"mask": MASK, "initial_state": [H0]}
    use_form(None)
    expected, _, expected_dx, expected_dw = loss_and_grads(rnn, x, **call)
    for form in GRADIENT_FORMS[name]:
        use_form(form)
        got, _, dx, dw = loss_and_grads(layer, x, **call)
        for ours, theirs in zip(got, expected):
            np.testing.assert_allclose(ours, theirs, atol=ATOL, err_msg=form)
        np.testing.assert_allclose(dx, expected_dx, atol=ATOL, err_msg=form)
        assert len(dw) == len(expected_dw) == 2
        for ours, theirs in zip(dw, expected_dw):
            np.testing.assert_allclose(ours, theirs, atol=ATOL, err_msg=form)


@pytest.mark.parametrize("name", list(PAIRS))
def test_zero_output_for_mask_and_last_output(name):
    """Forwards, `zero_output_for_mask`, `return_sequences=False`: as Keras."""
    layer = make_layer(name, zero_output_for_mask=True)
    rnn = recurrence(name, layer)
    x = inputs(2).astype("float32")
    for ours, theirs in zip(layer(x, mask=MASK), rnn(x, mask=MASK)):
        np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), atol=ATOL)
    last = PAIRS[name][0](UNITS)
    last.build((BATCH, TIME, FEATURES))
    last.set_weights(layer.get_weights())
    got = last(x, mask=MASK, initial_state=[H0])
    expected, _ = recurrence(name, last)(x, mask=MASK, initial_state=[H0])
    np.testing.assert_allclose(to_numpy(got), to_numpy(expected)[:, -1], atol=ATOL)


@pytest.mark.parametrize("name", list(PAIRS))
def test_masked_steps_keep_the_state(name):
    layer = make_layer(name)
    x = inputs(3).astype("float32")
    mask = np.ones((BATCH, TIME), bool)
    mask[0] = False  # every step of row 0 masked
    mask[1, 4:] = False
    _, h = layer(x, mask=mask, initial_state=[H0])
    _, h_short = layer(x[:, :4], initial_state=[H0])
    np.testing.assert_allclose(to_numpy(h)[0], H0[0], atol=ATOL)
    np.testing.assert_allclose(to_numpy(h)[1], to_numpy(h_short)[1], atol=ATOL)


@pytest.mark.parametrize("name", list(PAIRS))
def test_training_masks_agree_between_forms(name, use_form):
    """Dropout, Semeniuta recurrent dropout and zoneout masks in training: the
    same seed gives the same outputs in every form as in the step loop."""
    kwargs = dict(
        dropout=0.3,
        recurrent_dropout=0.4,
        recurrent_dropout_mode="semeniuta",
        zoneout_hidden=0.5,
        seed=7,
    )
    x = inputs(5).astype("float32")
    forms = TRAINING_FORMS
    results = {}
    for form in forms:
        use_form(form)
        layer = make_layer(name, **kwargs)
        results[form] = [to_numpy(t) for t in layer(x, mask=MASK, training=True)]
    plain = make_layer(name)  # the same weights without regularization
    assert not np.allclose(to_numpy(plain(x, mask=MASK)[0]), results["loop"][0])
    for form in forms:
        for ours, theirs in zip(results[form], results["loop"]):
            np.testing.assert_allclose(ours, theirs, atol=ATOL)


# Cases of the fused sequential form's own gradient (`min_rnn_fused`): layer
# arguments, call arguments.
FUSED_CASES = {
    "training-regularized": (
        dict(
            dropout=0.3,
            recurrent_dropout=0.4,
            recurrent_dropout_mode="semeniuta",
            zoneout_hidden=0.5,
            seed=7,
            go_backwards=True,
            return_sequences=True,
        ),
        dict(mask=MASK, training=True),
    ),
    "last-output-masked": (
        dict(zoneout_hidden=0.3),
        dict(mask=MASK, initial_state=[H0]),
    ),
    "last-output-zero-for-mask": (
        dict(zero_output_for_mask=True),
        dict(mask=MASK),
    ),
    "other-activations": (
        dict(
            recurrent_activation="hard_sigmoid",
            activation="relu",
            zoneout_hidden=0.4,
            seed=3,
        ),
        dict(training=True, initial_state=[H0]),
    ),
}


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the fused form is TensorFlow's")
@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize("case", list(FUSED_CASES))
def test_fused_sequential_gradient_matches_step_loop(name, case, use_form):
    """TensorFlow's sequential form has its own gradient (closed-form gate
    gradients, one reverse loop, only h(T-1) leaving it without
    `return_sequences`): outputs and gradients equal the step loop's autodiff,
    with training masks (the same seed draws the same masks), the last output
    only, masks, `zero_output_for_mask`, and gates that are not the sigmoid
    (autodiff of `gates` then)."""
    layer_kwargs, call = FUSED_CASES[case]
    x = inputs(8).astype("float32")
    results = {}
    for form in ("loop", "sequential"):
        use_form(form)
        layer = PAIRS[name][0](UNITS, return_state=True, **layer_kwargs)
        layer.build((BATCH, TIME, FEATURES))
        randomize_weights(layer, seed=2, scale=0.8)
        results[form] = loss_and_grads(layer, x, **call)
    (got, _, dx, dw), (expected, _, expected_dx, expected_dw) = (
        results["sequential"],
        results["loop"],
    )
    for ours, theirs in zip(got, expected):
        np.testing.assert_allclose(ours, theirs, atol=ATOL)
    np.testing.assert_allclose(dx, expected_dx, atol=ATOL)
    assert len(dw) == len(expected_dw) == 2
    for ours, theirs in zip(dw, expected_dw):
        np.testing.assert_allclose(ours, theirs, atol=ATOL)
    assert np.abs(dw[0]).max() > 1e-3  # the gradient reached the kernel


def test_min_lstm_gates_that_both_close_share_equally():
    """Gates that reach 0 (hard_sigmoid) can both be 0, where f / (f + i) is
    0 / 0: the cell takes f' = i' = 1/2 there (their limit as f = i -> 0)."""
    cell = MinLSTMCell(2, recurrent_activation="hard_sigmoid")
    k_i = np.array([[-10.0, -10.0], [0.0, -10.0]], "float32")
    k_f = np.array([[-10.0, -10.0], [-10.0, 0.0]], "float32")
    gates = [keras.ops.convert_to_tensor(k) for k in (k_i, k_f)]
    a, s = (to_numpy(t) for t in cell.gates(gates))
    np.testing.assert_allclose(a, [[0.5, 0.5], [0.0, 1.0]])
    np.testing.assert_allclose(s, [[0.5, 0.5], [1.0, 0.0]])


def test_min_lstm_input_share_is_exact_where_the_memory_is_long():
    """Where f' is near 1 (a long memory, as chrono initialization starts the
    cell), i' is small: the cell computes it from its own numerator, so it keeps
    float32's relative precision, which 1 - f' (a difference near 1) would not."""
    cell = MinLSTMCell(4)
    k_i = np.array([[-16.0, -12.0, -3.0, 2.0]], "float32")
    k_f = np.array([[16.0, 12.0, 3.0, -2.0]], "float32")
    gates = [keras.ops.convert_to_tensor(k) for k in (k_i, k_f)]
    a, s = (to_numpy(t).astype(np.float64) for t in cell.gates(gates))
    f, i = ref.sigmoid(k_f.astype(np.float64)), ref.sigmoid(k_i.astype(np.float64))
    np.testing.assert_allclose(a, f / (f + i), rtol=1e-6)
    np.testing.assert_allclose(s, i / (f + i), rtol=1e-6)  # s down to 1e-7
    assert s[0, 0] < 1e-6 and np.all(s > 0)


def test_zoneout_training_matches_reference_with_recorded_masks():
    """Training zoneout is the paper's step with a fresh keep mask per step."""
    layer = make_layer("mingru", zoneout_hidden=0.5, seed=3)
    x = inputs(6).astype("float32")
    keep = keras.random.uniform(
        (BATCH, TIME, UNITS), seed=keras.random.SeedGenerator(3)
    )
    keep = to_numpy(keep) < 0.5  # the draw `RecurrentLayer` makes first
    outputs, _ = layer(x, training=True)
    expected, _ = ref.run(
        ref.min_gru_step,
        x,
        np.zeros((BATCH, UNITS)),
        cell_weights(layer),
        zoneout_masks=keep.astype(np.float64),
    )
    np.testing.assert_allclose(to_numpy(outputs), expected, atol=ATOL)


def test_weights_states_and_forget_bias():
    gru = MinGRU(UNITS, return_state=True)
    _, h = gru(np.zeros((BATCH, TIME, FEATURES), "float32"))
    assert gru.cell.state_size == [UNITS] and tuple(h.shape) == (BATCH, UNITS)
    assert [w.name for w in gru.weights] == ["kernel", "bias"]
    assert tuple(gru.cell.kernel.shape) == (FEATURES, 2 * UNITS)
    lstm = MinLSTM(UNITS)
    lstm.build((BATCH, TIME, FEATURES))
    assert tuple(lstm.cell.kernel.shape) == (FEATURES, 3 * UNITS)
    bias = to_numpy(lstm.cell.bias)  # blocks (i, f, h): f starts at 1
    np.testing.assert_array_equal(bias, np.repeat([0.0, 1.0, 0.0], UNITS))


@pytest.mark.parametrize("name", list(PAIRS))
def test_config_round_trip(name):
    layer_class, cell_class, _ = PAIRS[name]
    kwargs = dict(
        activation="min_rnn_g",
        recurrent_dropout=0.2,
        recurrent_dropout_mode="semeniuta",
        zoneout_hidden=0.1,
        kernel_regularizer="l2",
        seed=3,
    )
    layer = layer_class(UNITS, go_backwards=True, **kwargs)
    config = layer.get_config()
    for absent in ("recurrent_initializer", "zoneout_cell", "cell_clip"):
        assert absent not in config
    assert config["activation"] == "min_rnn_g"
    clone = layer_class.from_config(config)
    assert clone.get_config() == config
    assert clone.activation is layer.activation
    cell = cell_class(UNITS, **kwargs)
    assert cell_class.from_config(cell.get_config()).get_config() == cell.get_config()
    deserialized = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(deserialized) is layer_class


@pytest.mark.parametrize("name", list(PAIRS))
@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"recurrent_dropout": 0.2}, "recurrent_dropout_mode"),
        ({"recurrent_initializer": "zeros"}, "recurrent_initializer"),
        ({"zoneout_cell": 0.1}, "zoneout_cell"),
        ({"cell_clip": 3.0}, "cell_clip"),
        ({"zoneout_hidden": 1.5}, "zoneout_hidden"),
        ({"units": 0}, "units"),
    ],
)
def test_argument_errors_name_the_argument(name, kwargs, argument):
    layer_class, cell_class, _ = PAIRS[name]
    kwargs = {"units": UNITS, **kwargs}
    for cls in (layer_class, cell_class):
        with pytest.raises(ValueError, match=f"`?{argument}`?"):
            cls(**kwargs)


def test_min_gru_takes_no_forget_bias_and_scan_checks_its_method():
    with pytest.raises(ValueError, match="unit_forget_bias"):
        MinGRU(UNITS, unit_forget_bias=True)
    a = np.ones((1, 2, 1), "float32")
    with pytest.raises(ValueError, match="method"):
        linear_scan.linear_scan(a, a, a[:, 0], method="parallel")


@pytest.mark.skipif(BACKEND != "tensorflow", reason="JAX always compiles")
@pytest.mark.parametrize(
    "name, return_sequences", [("minlstm", True), ("mingru", False)]
)
def test_tensorflow_graph_matches_eager(name, return_sequences):
    """In a `tf.function` the sequential form runs in an XLA cluster
    (`min_rnn_fused`, shared by both layers): the same outputs and gradients as
    eagerly, for every output and for the last one only."""
    import tensorflow as tf

    layer = PAIRS[name][0](
        UNITS,
        return_sequences=return_sequences,
        return_state=True,
        go_backwards=True,
        zoneout_hidden=0.2,
    )
    layer.build((BATCH, TIME, FEATURES))
    randomize_weights(layer, seed=0, scale=0.8)
    x = tf.constant(inputs(7).astype("float32"))

    def loss_and_gradients(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, mask=MASK, initial_state=[H0])
            loss = tf.reduce_sum(outputs[0] * outputs[0]) + tf.reduce_sum(outputs[1])
        return [outputs, tape.gradient(loss, [x, *layer.trainable_variables])]

    eager = loss_and_gradients(x)
    graph = tf.function(loss_and_gradients)(x)
    for ours, theirs in zip(tf.nest.flatten(graph), tf.nest.flatten(eager)):
        np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), atol=ATOL)


@pytest.mark.parametrize("reverse", [False, True])
def test_chunked_scan_with_unknown_length(reverse, monkeypatch):
    """The chunked scan pads a length that is no multiple of the chunk, also when
    the length is only known when the graph runs (TensorFlow)."""
    monkeypatch.setattr(linear_scan, "_CHUNK", 3)
    rng = np.random.default_rng(8)
    a = rng.uniform(0.1, 1.0, (BATCH, TIME, UNITS)).astype("float32")
    b = rng.normal(size=(BATCH, TIME, UNITS)).astype("float32")
    h = H0.astype(np.float64)
    expected = np.zeros((BATCH, TIME, UNITS))
    for t in reversed(range(TIME)) if reverse else range(TIME):
        h = a[:, t] * h + b[:, t]
        expected[:, t] = h
    scan = linear_scan._chunked_scan
    if BACKEND == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec((BATCH, None, UNITS), "float32")
        scan = tf.function(
            lambda a, b, h0: linear_scan._chunked_scan(a, b, h0, reverse=reverse),
            input_signature=[spec, spec, tf.TensorSpec((BATCH, UNITS), "float32")],
        )
        got = scan(a, b, H0)
    else:
        got = scan(a, b, H0, reverse=reverse)
    np.testing.assert_allclose(to_numpy(got), expected, atol=ATOL)


@pytest.mark.parametrize("form", [f for f in FORMS if f != "loop"])
def test_time_major_scan_equals_batch_major(form, monkeypatch):
    """`linear_scan(time_major=True)` (the layers' sequential form) gives the
    batch-major scan's values and gradients, transposed."""
    monkeypatch.setattr(linear_scan, "_CHUNK", 3)
    rng = np.random.default_rng(9)
    a = rng.uniform(0.1, 1.0, (BATCH, TIME, UNITS)).astype("float32")
    b = rng.normal(size=(BATCH, TIME, UNITS)).astype("float32")
    weights = rng.normal(size=(BATCH, TIME, UNITS)).astype("float32")

    def loss(a, b, h0, time_major):
        if time_major:
            a, b = (keras.ops.transpose(t, (1, 0, 2)) for t in (a, b))
        h = linear_scan.linear_scan(a, b, h0, method=form, time_major=time_major)
        if time_major:
            h = keras.ops.transpose(h, (1, 0, 2))
        return keras.ops.sum(h * weights), h

    results = []
    for time_major in (False, True):
        if BACKEND == "tensorflow":
            import tensorflow as tf

            tensors = [tf.constant(t) for t in (a, b, H0)]
            with tf.GradientTape() as tape:
                tape.watch(tensors)
                value, h = loss(*tensors, time_major)
            grads = tape.gradient(value, tensors)
        else:
            import jax

            (_, h), grads = jax.value_and_grad(
                lambda a, b, h0, tm=time_major: loss(a, b, h0, tm),
                argnums=(0, 1, 2),
                has_aux=True,
            )(a, b, H0)
        results.append([to_numpy(t) for t in (h, *grads)])
    for batch_major, time_major in zip(*results):
        np.testing.assert_allclose(time_major, batch_major, atol=ATOL)
    expected, h = np.zeros((BATCH, TIME, UNITS)), H0.astype(np.float64)
    for t in range(TIME):
        h = a[:, t] * h + b[:, t]
        expected[:, t] = h
    np.testing.assert_allclose(results[1][0], expected, atol=ATOL)


@pytest.mark.parametrize("name", list(PAIRS))
def test_stateful_in_a_compiled_function(name):
    """A stateful layer hands its state variable to the scan: in a `tf.function`
    (what `fit` runs) two batches equal one sequence of both (the text app trains
    on stateful streams this way)."""
    x = inputs(3).astype("float32")
    stateful = make_layer(name, stateful=True)
    call = stateful
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        call = tf.function(stateful.__call__)
    first = to_numpy(call(x[:, :3])[0])
    second = to_numpy(call(x[:, 3:])[0])
    whole = to_numpy(make_layer(name)(x)[0])
    np.testing.assert_allclose(np.concatenate([first, second], 1), whole, atol=ATOL)
