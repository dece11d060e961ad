"""The order of a step's ops on TensorFlow's graph executor: the backward pass
computes dh(t-1) before the weight gradients
(`lstmsuite.layers.recurrent.recurrent_matmul`),
`LayerNormLSTM`'s gain gradients wait for its dx, and the input projection of
step t waits for h(t-1) (`RecurrentLayer.inner_loop`).

The order changes no value: gradients must equal plain autodiff's. The speed it
buys is measured by `lstmsuite bench layers`, not here.
"""

import keras
import numpy as np
import pytest

from lstmsuite.layers import (
    CIFGLSTM,
    GRU,
    LSTM,
    LSTMP,
    LayerNormLSTM,
    PeepholeLSTM,
    recurrent,
)

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the order is for TensorFlow's graph executor",
)

LAYERS = {
    "lstm": (LSTM, {}),
    "peephole": (PeepholeLSTM, {}),
    "cifg": (CIFGLSTM, {}),
    "lstmp": (LSTMP, {"proj_units": 3}),
    "layernorm": (LayerNormLSTM, {}),
    "lstm_zoneout": (LSTM, {"zoneout_cell": 0.3, "zoneout_hidden": 0.3}),
    "lstm_variational": (LSTM, {"recurrent_dropout": 0.3}),
}
X = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")


def _training_step(layer):
    """A compiled step, as `model.fit` runs it: loss and gradients."""
    import tensorflow as tf

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, training=True)
            weights = tf.sin(tf.range(out.shape[-1], dtype=tf.float32))
            loss = tf.reduce_sum(tf.cast(out, tf.float32) * weights)
        return loss, tape.gradient(loss, [x] + layer.trainable_variables)

    return step


def _grads(layer_class, kwargs):
    """Loss and gradients of a fresh layer; `seed=1` gives both runs the same masks."""
    import tensorflow as tf

    layer = layer_class(5, seed=1, **kwargs)
    layer.build(X.shape)
    rng = np.random.default_rng(1)
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    loss, grads = _training_step(layer)(tf.constant(X))
    return float(loss), [np.asarray(g, "float32") for g in grads]


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradients_equal_plain_autodiff(name, monkeypatch):
    import tensorflow as tf

    layer_class, kwargs = LAYERS[name]
    loss, grads = _grads(layer_class, kwargs)
    monkeypatch.setattr(
        recurrent, "_dh_first_matmul", lambda h, k, z: (tf.matmul(h, k), z)
    )
    plain_loss, plain_grads = _grads(layer_class, kwargs)
    np.testing.assert_allclose(loss, plain_loss, rtol=1e-6)
    for grad, plain in zip(grads, plain_grads):
        np.testing.assert_allclose(grad, plain, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_gradients_equal_plain_autodiff(policy, monkeypatch):
    import tensorflow as tf

    loss, grads = _grads(LSTM, {"dtype": policy})
    monkeypatch.setattr(
        recurrent, "_dh_first_matmul", lambda h, k, z: (tf.matmul(h, k), z)
    )
    plain_loss, plain_grads = _grads(LSTM, {"dtype": policy})
    np.testing.assert_allclose(loss, plain_loss, rtol=1e-2)
    for grad, plain in zip(grads, plain_grads):
        assert np.all(np.isfinite(grad))
        np.testing.assert_allclose(grad, plain, rtol=1e-2, atol=1e-2)


def _library(fn):
    """The functions of `fn` traced for X's shape: its loop bodies among them."""
    import tensorflow as tf

    concrete = fn.get_concrete_function(tf.TensorSpec(X.shape, "float32"))
    return concrete.graph.as_graph_def().library.function


def _inputs(node):
    return [i.lstrip("^").split(":")[0] for i in node.input]


def _backward_bodies(step):
    """The loop's backward bodies in a traced step: {node: its input nodes}."""
    return [
        {node.name: set(_inputs(node)) for node in function.node_def}
        for function in _library(step)
        if "_grad" in function.signature.name
        and "while_body" in function.signature.name
    ]


def _by_suffix(nodes):
    """Node names grouped by their last part (the name an op was given)."""
    groups = {}
    for node in nodes:
        groups.setdefault(node.rsplit("/", 1)[-1], []).append(node)
    return groups


def _depends_on(nodes, start, target):
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name == target:
            return True
        if name not in seen:
            seen.add(name)
            todo.extend(nodes.get(name, ()))
    return False


@pytest.mark.parametrize("name", ["lstm", "layernorm"])
def test_weight_gradients_wait_for_dh(name):
    layer_class, kwargs = LAYERS[name]
    layer = layer_class(5, **kwargs)
    layer.build(X.shape)
    (nodes,) = _backward_bodies(_training_step(layer))
    by_suffix = _by_suffix(nodes)
    (dh,), (dkernel,), (dz,) = by_suffix["dh"], by_suffix["dkernel"], by_suffix["dz"]
    # The recurrent kernel's gradient waits for dh, and the projected input's
    # gradient (which feeds the input kernel's) for both; dh waits for neither.
    assert _depends_on(nodes, dkernel, dh)
    assert _depends_on(nodes, dz, dkernel)
    assert not _depends_on(nodes, dh, dkernel)
    assert not _depends_on(nodes, dh, dz)


def test_inference_and_eager_execution_take_plain_matmul(monkeypatch):
    called = []
    monkeypatch.setattr(
        recurrent, "_dh_first_matmul", lambda *args: called.append(args)
    )
    h = np.ones((2, 3), "float32")
    kernel = np.ones((3, 4), "float32")
    z = np.zeros((2, 4), "float32")
    r, same_z = recurrent.recurrent_matmul(h, kernel, z, training=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(r), np.full((2, 4), 3.0))
    assert same_z is z
    # Eager execution has no executor order to fix either.
    recurrent.recurrent_matmul(h, kernel, z, training=True)
    assert called == []


def test_layer_norm_gain_gradients_wait_for_dx():
    layer = LayerNormLSTM(5)
    layer.build(X.shape)
    (nodes,) = _backward_bodies(_training_step(layer))
    by_suffix = _by_suffix(nodes)
    # Three normalizations per step (W x, U h and c), each with a gain; those
    # of W x (which carries the layer's offset) and c with an offset too.
    assert len(by_suffix["dx"]) == 3
    assert len(by_suffix["dgamma"]) == 3 and len(by_suffix["dbeta"]) == 2
    for grad in by_suffix["dgamma"] + by_suffix["dbeta"]:
        assert any(_depends_on(nodes, grad, dx) for dx in by_suffix["dx"])
    for dx in by_suffix["dx"]:
        assert not any(_depends_on(nodes, dx, g) for g in by_suffix["dgamma"])


def _forward_body(layer):
    """The loop body of a traced inference call: {node: (op, its input names)}."""
    import tensorflow as tf

    call = tf.function(lambda x: layer(x, training=False))
    (body,) = [f for f in _library(call) if "while_body" in f.signature.name]
    return {node.name: (node.op, _inputs(node)) for node in body.node_def}


@pytest.mark.parametrize("layer_class", [LSTM, GRU, LayerNormLSTM])
def test_input_projection_waits_for_previous_h(layer_class):
    layer = layer_class(5)
    layer.build(X.shape)
    body = _forward_body(layer)
    nodes = {name: set(inputs) for name, (_, inputs) in body.items()}
    reads_x = [name for name, (op, _) in body.items() if op == "TensorListGetItem"]
    matmuls = [name for name, (op, _) in body.items() if op == "MatMul"]
    x_matmuls = [m for m in matmuls if any(_depends_on(nodes, m, r) for r in reads_x)]
    (h_matmul,) = [m for m in matmuls if m not in x_matmuls]
    # h(t-1) enters the body as an argument, not as one of its nodes (so may
    # the recurrent kernel, which the input projection cannot depend on).
    arguments = [i for i in body[h_matmul][1] if i not in body]
    assert x_matmuls
    for x_matmul in x_matmuls:
        assert any(_depends_on(nodes, x_matmul, h) for h in arguments)
