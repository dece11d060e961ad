"""The text app: a character-level (or byte, or subword) language model.

    lstmsuite train text --config configs/text/shakespeare.yaml --run-dir runs/text/sh
    lstmsuite evaluate text --run-dir runs/text/sh
    lstmsuite generate text --run-dir runs/text/sh \
        --set generate.prompt="ROMEO:" --set generate.length=500

Data (`data.py`): the embedded Tiny Shakespeare, a text file or a folder of them.
Tokens (`tokenizers.py`): characters, bytes or SentencePiece subwords. Training
(`pipeline.py`): windows of `data.window` tokens with truncated backpropagation
through time, as stateful streams (the state carried across consecutive windows)
or random windows. Model (`model.py`): embedding, a recurrent stack of any cell,
softmax; or a causal Transformer for comparison (`model.kind: transformer`).

`evaluate` reports nats and bits per character on validation and test, the state
carried through each split (`streaming.split_nats`); `generate` samples with the
shared strategies (greedy, temperature, top-k, nucleus), reading the prompt once
and then one step per token, and prints the text and the characters per second.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lstmsuite.pipelines import decoding
from lstmsuite.pipelines.config import (
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    check_choice,
    require,
)
from lstmsuite.pipelines.contract import App, RunDir, write_text

GENERATED_DIR = "generated"

# ------------------------------------------------------------------------------ config


@dataclass(kw_only=True)
class TextDataConfig(DataConfig):
    source: str = "shakespeare"  # shakespeare | text_file | text_dir
    tokenizer: Literal["char", "byte", "subword"] = "char"
    vocab_size: int = 1024  # subword only (SentencePiece pieces, bytes included)
    window: int = 128  # tokens per training window (truncated BPTT length)
    windows: Literal["stateful", "random"] = "stateful"
    batch_size: int = 64
    eval_streams: int = 16  # evaluate: the split read as this many long streams
    eval_window: int = 256  # evaluate: tokens per forward call within a stream


@dataclass(kw_only=True)
class TextModelConfig(ModelConfig):
    kind: Literal["rnn", "transformer"] = "rnn"
    units: int = 256
    num_layers: int = 2
    embedding_dim: int = 64  # rnn only (a Transformer embeds at `units`)
    output_dropout: float = 0.0  # rnn only
    num_heads: int = 4  # transformer only
    ff_dim: int = 0  # transformer only; 0: 4 * units


@dataclass(kw_only=True)
class GenerateConfig(decoding.DecodeConfig):
    """`lstmsuite generate text`: `samples` texts of `length` tokens after
    `prompt`, written to RUN/generated/sample.txt (or --output) and printed."""

    strategy: Literal["greedy", "beam", "sample"] = "sample"
    temperature: float = 0.8
    prompt: str = "\n"
    length: int = 500  # tokens to generate (characters with data.tokenizer: char)
    samples: int = 1  # generated side by side, as rows of one batch
    # graph: greedy and sampling run as one TensorFlow loop (a recurrent model);
    # host: a Python loop around a compiled step (any strategy, beam included).
    loop: Literal["graph", "host"] = "graph"


@dataclass(kw_only=True)
class TextConfig(Config):
    app: str = "text"
    data: TextDataConfig = field(default_factory=TextDataConfig)
    model: TextModelConfig = field(default_factory=TextModelConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)

    def validate(self, origin: str = "defaults") -> None:
        from lstmsuite.apps.text.data import SOURCES

        super().validate(origin)
        check_choice(origin, "data.source", self.data.source, SOURCES.names(), "source")
        d, m, g = self.data, self.model, self.generate

        def need(ok: bool, key: str, what: str) -> None:
            require(self, origin, ok, key, what)

        need(d.window >= 2, "data.window", "at least 2")
        need(d.eval_streams >= 1, "data.eval_streams", "at least 1")
        need(d.eval_window >= 1, "data.eval_window", "at least 1")
        need(d.vocab_size >= 300, "data.vocab_size", "at least 300")
        need(m.embedding_dim >= 1, "model.embedding_dim", ">= 1")
        need(0 <= m.output_dropout < 1, "model.output_dropout", "a rate in [0, 1)")
        need(g.length >= 1, "generate.length", "at least 1")
        need(g.samples >= 1, "generate.samples", "at least 1")
        if m.kind == "transformer":
            need(
                m.units % m.num_heads == 0,
                "model.num_heads",
                f"a divisor of model.units ({m.units})",
            )
            if d.windows == "stateful":
                raise ConfigError(
                    f"{origin}: data.windows: a Transformer carries no state across "
                    "windows; use data.windows: random with model.kind: transformer"
                )
        if d.max_length is not None:
            raise ConfigError(
                f"{origin}: data.max_length: windows are data.window tokens; leave "
                "it unset"
            )


# -------------------------------------------------------------------------------- data


def load_splits(data_cfg: TextDataConfig):
    from lstmsuite.apps.text.data import SOURCES
    from lstmsuite.pipelines.sources import load_source

    splits = load_source(SOURCES, data_cfg)
    for name in ("train", "valid", "test"):
        if not splits[name]:
            raise ValueError(f"data: the {name} split has no text")
    return splits


def tokenizer_for_run(cfg: TextConfig, run_dir, train_text: str | None = None):
    """The run's tokenizer. Training (`train_text` given) learns it and saves it
    in the run (a resumed run must get the same one); evaluation and generation
    (`train_text` None) read it from the run."""
    from lstmsuite.apps.text.tokenizers import (
        TOKENIZER_FILE,
        load_tokenizer,
        make_tokenizer,
        save_tokenizer,
    )

    saved = (Path(run_dir) / TOKENIZER_FILE).exists()
    if train_text is None or (saved and cfg.data.tokenizer == "subword"):
        # SentencePiece training is not free: a resumed run reuses its model.
        return load_tokenizer(run_dir)
    tokenizer = make_tokenizer(cfg.data.tokenizer, train_text, cfg.data.vocab_size)
    save_tokenizer(tokenizer, run_dir)
    return tokenizer


def stateful(cfg: TextConfig) -> bool:
    return cfg.model.kind == "rnn" and cfg.data.windows == "stateful"


# --------------------------------------------------------------------------------- app


class TextApp(App):
    """Character-level language modelling and streaming text generation."""

    config_class = TextConfig
    infer_command = "generate"

    # ---- runner hooks
    def load_data(self, cfg: TextConfig, run_dir) -> Any:
        from lstmsuite.apps.text.pipeline import random_batches, stream_batches
        from lstmsuite.pipelines.contract import Datasets

        splits = load_splits(cfg.data)
        tokenizer = tokenizer_for_run(cfg, run_dir, splits["train"])
        train_ids = tokenizer.encode(splits["train"])
        valid_ids = tokenizer.encode(splits["valid"])
        d = cfg.data
        if d.windows == "stateful":
            train = stream_batches(
                train_ids, d.batch_size, d.window, seed=cfg.seed, name="train"
            )
        else:
            train = random_batches(
                train_ids, d.batch_size, d.window, seed=cfg.seed, name="train"
            )
        valid = stream_batches(
            valid_ids, d.batch_size, d.window, seed=None, name="valid"
        )
        return Datasets(
            train=train,
            valid=valid,
            info={
                "vocab_size": tokenizer.size,
                "tokens": {"train": len(train_ids), "valid": len(valid_ids)},
                "splits": splits.info,
            },
        )

    def build_model(self, cfg: TextConfig, data=None):
        from lstmsuite.apps.text.model import build_model

        if data is None or "vocab_size" not in data.info:
            raise ValueError("build_model needs the Datasets from load_data")
        if stateful(cfg):
            import tensorflow as tf

            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            if replicas > 1:
                # Each replica would see other rows of the streams in each batch,
                # and Keras keeps one copy of a stateful layer's state.
                raise ConfigError(
                    f"data.windows: stateful streams train on one device, and this "
                    f"strategy has {replicas} replicas; use data.windows: random "
                    "(or runtime.strategy: one_device)"
                )
        return build_model(
            cfg.model,
            data.info["vocab_size"],
            seed=cfg.seed,
            batch_size=cfg.data.batch_size,
            stateful=stateful(cfg),
            context=cfg.data.window,
        )

    def compile_args(self, cfg: TextConfig) -> dict[str, Any]:
        import keras

        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}

    def callbacks(self, cfg: TextConfig, run_dir) -> list[Any]:
        from lstmsuite.apps.text.model import ResetStates

        return [ResetStates()] if stateful(cfg) else []

    # ---- commands
    def evaluate(self, cfg: TextConfig, run_dir) -> dict[str, Any]:
        return evaluate(cfg, run_dir)

    def generate(self, cfg: TextConfig, run_dir, output: str | None) -> list[str]:
        texts, seconds, generated = generate(cfg, run_dir)
        out = Path(output) if output else Path(run_dir) / GENERATED_DIR / "sample.txt"
        body = "\n\n".join(
            f"=== sample {k + 1} ===\n{text}" if len(texts) > 1 else text
            for k, text in enumerate(texts)
        )
        print(body)
        rate = generated / seconds if seconds > 0 else float("inf")
        print(
            f"generated {generated} characters in {seconds:.2f} s: "
            f"{rate:.0f} characters per second ({len(texts)} sample(s) in one batch)"
        )
        write_text(out, body + "\n")
        return [str(out)]


# ---------------------------------------------------------------------------- commands


def trained_model(run_dir):
    """The run's best model, without carried state (any batch)."""
    from lstmsuite.apps.text.model import inference_copy

    return inference_copy(RunDir(run_dir).load_model())


def evaluate(cfg: TextConfig, run_dir) -> dict[str, Any]:
    """Nats and bits per character (and per token) on validation and test."""
    from lstmsuite.apps.text.streaming import split_nats

    model = trained_model(run_dir)
    tokenizer = tokenizer_for_run(cfg, run_dir)
    splits = load_splits(cfg.data)
    parts = {"valid": splits["valid"], "test": splits["test"]}
    if "nanogpt_val" in splits.info:
        parts["nanogpt_val"] = splits.info["nanogpt_val"]
    scores: dict[str, Any] = {}
    for name, text in parts.items():
        ids = tokenizer.encode(text)
        nats, scored = split_nats(
            model, ids, streams=cfg.data.eval_streams, window=cfg.data.eval_window
        )
        # Characters the scored tokens cover (all but a stream's first token).
        chars = len(text) * scored / len(ids)
        per_char = nats / chars
        scores[f"{name}_nats_per_char"] = round(per_char, 4)
        if name != "nanogpt_val":
            scores[f"{name}_bits_per_char"] = round(per_char / math.log(2), 4)
            scores[f"{name}_nats_per_token"] = round(nats / scored, 4)
            scores[f"{name}_tokens"] = int(len(ids))
    scores["params"] = int(model.count_params())
    return scores


def prompt_ids(tokenizer, prompt: str):
    import numpy as np

    ids = tokenizer.encode(prompt) if prompt else np.zeros(0, np.int32)
    if len(ids) == 0:
        # An empty prompt starts after a newline (or the first id).
        ids = tokenizer.encode("\n")
        ids = ids if len(ids) else np.zeros(1, np.int32)
    return ids


def generate(cfg: TextConfig, run_dir):
    """(texts, seconds spent generating, characters generated): the prompt
    followed by `generate.length` tokens, `generate.samples` times."""
    import numpy as np

    from lstmsuite.apps.text.streaming import stream_for

    model = trained_model(run_dir)
    tokenizer = tokenizer_for_run(cfg, run_dir)
    g = cfg.generate
    ids = prompt_ids(tokenizer, g.prompt)
    prompt = np.tile(ids[None, :], (g.samples, 1))
    stream = stream_for(model)
    decoder = decoding.decoder_from_config(
        g, decoding.Categorical(from_logits=True), seed=cfg.seed
    )
    # A short warm-up traces what the loop runs, so that the rate measures steps.
    stream.decode(decoder, prompt, 2, g.loop)
    started = time.perf_counter()
    decoded = stream.decode(decoder, prompt, g.length, g.loop)
    seconds = time.perf_counter() - started
    continuations = [tokenizer.decode(row) for row in decoded.sequences]
    texts = [g.prompt + text for text in continuations]
    return texts, seconds, sum(map(len, continuations))
