"""Where each task's batches come from (`data.source`).

    data: {source: adding, length: 600}                    # generated, seeded
    data: {source: smnist}                                  # scikit-learn's digits
    data: {source: pmnist, path: ../shared/data/mnist/mnist.npz}

* `adding`, `copy`, `selective_copy`, `parity`: generated inside `tf.data` from
  the config's seed (`tasks.py`): `data.train_batches` new batches per epoch,
  `data.eval_examples` fixed examples for validation and as many for test.
  `parity` validates on the training lengths (1..`data.length`) and tests on the
  lengths of `data.test_buckets` (41..256 by default), bucket by bucket.
* `smnist`, `pmnist`: images read pixel by pixel in scan-line order (`smnist`) or
  in the order of a fixed random permutation (`pmnist`, Le et al. 2015), one
  pixel per step, the class predicted after the last. From `mnist.npz`
  (`data.path`; 28x28, T = 784; train 55,000, valid the last 5,000 of the
  training file, test 10,000) or, with no path, scikit-learn's 1,797 8x8 digits
  (T = 64, split 80/10/10 in a fixed order): the embedded default that runs in
  minutes. The permutation comes from `data.permutation_seed` (the task, not
  the training seed: every cell of a study sees the same one) and is saved in the
  run (`permutation.json`), which evaluation reads. `data.standardize` centers
  and scales the pixels by the training images' mean and standard deviation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from lstmsuite.apps.long_range.tasks import TASKS, Parity, make_task, task_dataset
from lstmsuite.pipelines.config import ConfigError
from lstmsuite.pipelines.contract import write_text

IMAGE_SOURCES = ("smnist", "pmnist")
SOURCES = (*TASKS, *IMAGE_SOURCES)
PERMUTATION_FILE = "permutation.json"
CLASSES = 10


# ----------------------------------------------------------------------- generated


def generated_task(data_cfg):
    """The `tasks.Task` the config names (a generated source)."""
    options = dict(data_cfg.options)
    try:
        return make_task(data_cfg.source, data_cfg.length, **options)
    except TypeError as e:
        raise ConfigError(f"data.options: {data_cfg.source}: {e}") from None
    except ValueError as e:
        raise ConfigError(str(e)) from None


def eval_batches(data_cfg) -> int:
    return max(1, -(-data_cfg.eval_examples // data_cfg.batch_size))


def task_splits(data_cfg, seed: int) -> dict[str, tf.data.Dataset]:
    """train (new every epoch), valid and test datasets of a generated task;
    parity's test is one dataset per bucket of `data.test_buckets`."""
    task = generated_task(data_cfg)
    common = {"batch_size": data_cfg.batch_size}
    n = eval_batches(data_cfg)
    splits = {
        "train": task_dataset(
            task, batches=data_cfg.train_batches, seed=seed, fresh=True, **common
        ),
        "valid": task_dataset(task, batches=n, seed=seed + 1, fresh=False, **common),
    }
    if isinstance(task, Parity):
        for lo, hi in parity_buckets(data_cfg):
            bucket = Parity(length=hi, min_length=lo)
            splits[f"test_{lo}_{hi}"] = task_dataset(
                bucket, batches=n, seed=seed + 2 + hi, fresh=False, **common
            )
    else:
        splits["test"] = task_dataset(
            task, batches=n, seed=seed + 2, fresh=False, **common
        )
    return splits


def parity_buckets(data_cfg) -> list[tuple[int, int]]:
    """`[40, 64, 128, 256]` -> `[(41, 64), (65, 128), (129, 256)]`."""
    edges = data_cfg.test_buckets
    return [(lo + 1, hi) for lo, hi in zip(edges, edges[1:])]


# -------------------------------------------------------------------------- images


def load_images(path, standardize=False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`{"train": (x, y), "valid": ..., "test": ...}`: images float32 in [0, 1]
    flattened to (N, pixels), labels int32; with `standardize`, every split minus
    the training images' mean pixel, over their standard deviation."""
    splits = _read_images(path)
    if not standardize:
        return splits
    train = splits["train"][0].astype(np.float64)
    mean, std = train.mean(), train.std()
    return {
        name: (((x - mean) / std).astype(np.float32), y)
        for name, (x, y) in splits.items()
    }


def _read_images(path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if path is None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = digits.images.reshape(len(digits.images), -1).astype(np.float32) / 16.0
        y = digits.target.astype(np.int32)
        order = np.random.default_rng(0).permutation(len(x))
        cut = np.cumsum([int(0.8 * len(x)), int(0.1 * len(x))])
        parts = dict(zip(("train", "valid", "test"), np.split(order, cut)))
        return {name: (x[idx], y[idx]) for name, idx in parts.items()}
    from lstmsuite.pipelines.mnist import read_mnist

    try:
        arrays = read_mnist(path)
    except FileNotFoundError as e:
        raise ConfigError(f"data.path: {e}") from None
    (x, y), (x_test, y_test) = arrays["train"], arrays["test"]

    def flat(images):
        return images.reshape(len(images), -1).astype(np.float32) / 255.0

    if len(x) <= 5000 or not len(x_test):
        raise ValueError(
            f"{path}: {len(x)} training and {len(x_test)} test images; the split "
            "needs more than 5,000 training images and some test images"
        )
    return {
        "train": (flat(x[:-5000]), y[:-5000].astype(np.int32)),
        "valid": (flat(x[-5000:]), y[-5000:].astype(np.int32)),
        "test": (flat(x_test), y_test.astype(np.int32)),
    }


def permutation(seed: int, pixels: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(pixels).astype(np.int32)


def run_permutation(data_cfg, run_dir, pixels: int, *, create: bool) -> np.ndarray:
    """The run's pixel order: identity for `smnist`; for `pmnist` the saved
    permutation (`create`: made from `data.permutation_seed` and saved when the
    run has none yet)."""
    if data_cfg.source != "pmnist":
        return np.arange(pixels, dtype=np.int32)
    file = Path(run_dir) / PERMUTATION_FILE
    if file.exists():
        try:
            saved = json.loads(file.read_text())
            order = np.asarray(saved["permutation"], np.int32)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{file} cannot be read ({e}); delete it") from None
        if sorted(order.tolist()) != list(range(pixels)):
            raise ValueError(
                f"{file}: not a permutation of the {pixels} pixels of these images "
                "(was the run trained on other data?)"
            )
        return order
    if not create:
        raise FileNotFoundError(f"{file}: the run has no saved permutation")
    order = permutation(data_cfg.permutation_seed, pixels)
    record = {"seed": data_cfg.permutation_seed, "permutation": order.tolist()}
    write_text(file, json.dumps(record) + "\n")
    return order


def image_dataset(x, y, order, *, batch_size, seed=None) -> tf.data.Dataset:
    """Batches `(pixels (B, T, 1), labels (B,))` in the order `order`; shuffled
    each epoch when `seed` is given (training)."""
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if seed is not None:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    order_t = tf.constant(order)

    def to_sequence(images, labels):
        return tf.gather(images, order_t, axis=1)[..., None], labels

    ds = ds.batch(batch_size, drop_remainder=seed is not None)
    return ds.map(to_sequence, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


# --------------------------------------------------------------------------- specs


def task_spec(data_cfg, pixels: int | None = None) -> dict:
    """What the model needs: vocabulary or features, output kind, classes."""
    if data_cfg.source in IMAGE_SOURCES:
        return {
            "vocab": 0,
            "features": 1,
            "output": "last",
            "classes": CLASSES,
            "loss": "crossentropy",
            "steps": pixels,
        }
    task = generated_task(data_cfg)
    return {
        "vocab": task.vocab,
        "features": task.features,
        "output": task.output,
        "classes": task.classes,
        "loss": task.loss,
        "steps": getattr(task, "steps", task.length),
    }
