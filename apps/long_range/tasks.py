"""The synthetic long-range tasks, generated inside `tf.data` from a seed.

    task = make_task("adding", length=600)
    x, y = task.batch(seed=tf.constant([7, 0], tf.int64), batch_size=32)

Each task draws a whole batch at once with TensorFlow's stateless random ops, so a
batch is a pure function of its seed pair: training batches are new every epoch
(the epoch's key comes from `Dataset.random`), validation and test batches are the
same on every run, and no Python runs per example.

* `adding` (Hochreiter and Schmidhuber 1997, in the form of Le et al. 2015): T steps
  of two features, a number in [0, 1) and a marker; one marker in each half of the
  sequence; the target is the sum of the two marked numbers. Answering 1 always
  scores an MSE of Var(sum) = 2/12 = 0.167.
* `copy` (Arjovsky et al. 2016): 10 symbols of 8, T-1 blanks, a go marker, 10
  blanks; the target is blank for T+10 steps, then the 10 symbols. A model with no
  memory scores 10 log 8 / (T + 20) nats per step (blanks certain, symbols uniform).
* `selective_copy` (Gu and Dao 2023): the 10 symbols sit at random positions among
  T noise (blank) steps; after the go marker they must come out in order. The same
  memoryless baseline, over T + 11 steps.
* `parity` (the formal-language tasks of the xLSTM paper, after Deletang et al.
  2023): a string of bits; the target is their sum mod 2. Trained on lengths
  1..`train_length` (40), tested on longer ones (41..256) for length
  generalization; one length per batch, so no padding. Chance is 0.5.

Symbols are tokens: 0 blank (or noise), 1..8 the symbols, 9 the go marker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf

BLANK, GO = 0, 9
ALPHABET = 8  # symbols 1..8
TOKENS = 10  # blank, 8 symbols, go


def _seeds(seed, n: int):
    """`n` independent stateless seed pairs derived from one pair."""
    return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), n)


@dataclass(frozen=True, kw_only=True)
class Task:
    """What the model and the evaluation need to know about a task.

    `output`: "last" (one prediction from the last step) or "sequence" (one per
    step). `loss`: "mse" or "crossentropy". `inputs`: token ids (`vocab` > 0) or
    `features` floats per step. `classes`: the width of the prediction.
    """

    name: str
    length: int
    output: str
    loss: str
    classes: int
    vocab: int = 0
    features: int = 0

    def batch(self, seed, batch_size: int, length=None):
        """`(x, y)` for one batch drawn from the stateless `seed` pair."""
        raise NotImplementedError

    def baseline(self) -> dict[str, float]:
        """The trivial baseline of the task's metric, by name."""
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Adding(Task):
    name: str = "adding"
    output: str = "last"
    loss: str = "mse"
    classes: int = 1
    features: int = 2

    def batch(self, seed, batch_size, length=None):
        steps = self.length
        s = _seeds(seed, 3)
        values = tf.random.stateless_uniform([batch_size, steps], s[0])
        half = steps // 2
        first = tf.random.stateless_uniform([batch_size], s[1], 0, half, tf.int32)
        second = tf.random.stateless_uniform([batch_size], s[2], half, steps, tf.int32)
        markers = tf.one_hot(first, steps) + tf.one_hot(second, steps)
        x = tf.stack([values, markers], axis=-1)
        y = tf.reduce_sum(values * markers, axis=1, keepdims=True)
        return x, y

    def baseline(self):
        # Answering 1 (the mean of the sum): its MSE is the sum's variance, 2/12.
        return {"mse": 1 / 6}


@dataclass(frozen=True, kw_only=True)
class Copy(Task):
    name: str = "copy"
    output: str = "sequence"
    loss: str = "crossentropy"
    classes: int = TOKENS
    vocab: int = TOKENS
    symbols: int = 10

    @property
    def steps(self) -> int:
        return self.length + 2 * self.symbols

    def _symbols(self, seed, batch_size):
        return tf.random.stateless_uniform(
            [batch_size, self.symbols], seed, 1, ALPHABET + 1, tf.int32
        )

    def batch(self, seed, batch_size, length=None):
        k, steps = self.symbols, self.length
        symbols = self._symbols(seed, batch_size)
        blanks = tf.fill([batch_size, steps - 1], BLANK)
        go = tf.fill([batch_size, 1], GO)
        tail = tf.fill([batch_size, k], BLANK)
        x = tf.concat([symbols, blanks, go, tail], axis=1)
        y = tf.concat([tf.fill([batch_size, steps + k], BLANK), symbols], axis=1)
        return x, y

    def baseline(self):
        return {"nats_per_step": self.symbols * math.log(ALPHABET) / self.steps}


@dataclass(frozen=True, kw_only=True)
class SelectiveCopy(Copy):
    name: str = "selective_copy"

    @property
    def steps(self) -> int:
        return self.length + self.symbols + 1

    def batch(self, seed, batch_size, length=None):
        k, steps = self.symbols, self.length
        s = _seeds(seed, 2)
        symbols = self._symbols(s[0], batch_size)
        # k distinct positions among steps, in order: where the k largest of steps
        # random keys are, sorted.
        keys = tf.random.stateless_uniform([batch_size, steps], s[1])
        positions = tf.sort(tf.math.top_k(keys, k).indices, axis=1)
        placed = tf.one_hot(positions, steps, dtype=tf.int32)  # (B, k, steps)
        data = tf.reduce_sum(placed * symbols[:, :, None], axis=1)
        go = tf.fill([batch_size, 1], GO)
        tail = tf.fill([batch_size, k], BLANK)
        x = tf.concat([data, go, tail], axis=1)
        y = tf.concat([tf.fill([batch_size, steps + 1], BLANK), symbols], axis=1)
        return x, y


@dataclass(frozen=True, kw_only=True)
class Parity(Task):
    name: str = "parity"
    output: str = "last"
    loss: str = "crossentropy"
    classes: int = 2
    vocab: int = 2
    min_length: int = 1  # training lengths are min_length..length

    def batch(self, seed, batch_size, length=None):
        """Bits of one length: `length` (an int or scalar tensor), or one drawn
        uniformly from min_length..self.length."""
        s = _seeds(seed, 2)
        if length is None:
            length = tf.random.stateless_uniform(
                [], s[0], self.min_length, self.length + 1, tf.int32
            )
        bits = tf.random.stateless_uniform(
            tf.stack([batch_size, length]), s[1], 0, 2, tf.int32
        )
        y = tf.math.floormod(tf.reduce_sum(bits, axis=1), 2)
        return bits, y

    def baseline(self):
        return {"accuracy": 0.5}


TASKS = {
    "adding": Adding,
    "copy": Copy,
    "selective_copy": SelectiveCopy,
    "parity": Parity,
}


def make_task(name: str, length: int, **options) -> Task:
    """The task `name` with sequence length (or delay) `length`."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choices: {', '.join(TASKS)}")
    minimum = {"adding": 2, "selective_copy": options.get("symbols", 10)}.get(name, 1)
    if length < minimum:
        raise ValueError(f"data.length: {name} needs a length of at least {minimum}")
    return TASKS[name](length=length, **options)


def task_dataset(
    task: Task, *, batch_size: int, batches: int, seed: int, fresh: bool, length=None
) -> tf.data.Dataset:
    """`batches` batches of `task`.

    fresh=True (training): a new key each epoch from `Dataset.random`, so every
    epoch sees new examples, the same sequence of epochs for the same seed.
    fresh=False (validation, test): the same batches on every pass and run.
    `length`: a fixed length for every batch (parity's test buckets).
    """
    if fresh:
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        keys = keys.take(1)
    else:
        keys = tf.data.Dataset.from_tensors(tf.constant(seed, tf.int64))

    def epoch(key):
        ks = tf.data.Dataset.range(batches)
        return ks.map(
            lambda k: task.batch(tf.stack([key, k]), batch_size, length),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

    ds = keys.flat_map(epoch)
    return ds.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(2)
