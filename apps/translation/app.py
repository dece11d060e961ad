"""The translation app: what `lstmsuite train|evaluate|predict|tune translation` run.

    lstmsuite train translation --config configs/translation/anki_fra.yaml \
        --run-dir runs/translation/anki_fra
    lstmsuite evaluate translation --run-dir runs/translation/anki_fra
    lstmsuite predict translation "Some sentence." --run-dir runs/translation/anki_fra
    echo "I am cold." | lstmsuite predict translation --run-dir RUN_DIR

`load_data` learns one SentencePiece model per language from the training split
(kept in RUN/tokenizer/, so a resumed run reuses them), tokenizes every split once
in TensorFlow, and builds the tf.data pipeline from the shared stages: cache ->
shuffle -> bucket by length -> pad per batch -> teacher-forcing map -> prefetch.
Training pairs with a side longer than `data.max_train_tokens` subwords are dropped
(the test split is never filtered).

`evaluate` translates every distinct source sentence of the test split with greedy
and with beam search (`lstmsuite.pipelines.decoding`), scores corpus BLEU and chrF with
sacreBLEU against *all* target sentences of that source, writes the beam outputs to
RUN/translations.txt and an attention heat map of a few sentences to
RUN/attention.png.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lstmsuite.pipelines import decoding
from lstmsuite.pipelines.config import (
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    TrainingConfig,
    check_choice,
)
from lstmsuite.pipelines.contract import App, write_bytes, write_text
from lstmsuite.pipelines.sources import load_source

# ------------------------------------------------------------------------------ config


@dataclass(kw_only=True)
class TranslationDataConfig(DataConfig):
    source: str = "tsv"  # tsv | parallel_text | tfds (see apps/translation/data.py)
    batch_size: int = 64
    # Bucket edges in subword tokens (the longer side of a pair).
    bucket_boundaries: list[int] = field(default_factory=lambda: [8, 12, 16, 24])
    source_vocab_size: int = 4000  # SentencePiece pieces, reserved ids included
    target_vocab_size: int = 4000
    tokenizer: Literal["unigram", "bpe"] = "unigram"
    # Training pairs with a side longer than this many subwords are dropped.
    max_train_tokens: int | None = 48


@dataclass(kw_only=True)
class TranslationModelConfig(ModelConfig):
    units: int = 256  # per direction in the encoder; the decoder width
    embedding_dim: int = 256
    bidirectional: bool = True
    decoder_layers: int | None = None  # None: the same as num_layers
    attention: Literal["luong", "bahdanau"] = "bahdanau"  # multiplicative | additive
    attention_units: int = 256  # the additive score's hidden width
    # Start the decoder from a tanh projection of the encoder's final states (True)
    # or from zeros (False: the source reaches the decoder only through attention,
    # which keeps the attention from collapsing; see apps/translation/README.md).
    bridge: bool = False
    embedding_dropout: float = 0.0
    output_dropout: float = 0.0
    max_output_length: int = 64  # inference never decodes longer than this


@dataclass(kw_only=True)
class TranslationTrainingConfig(TrainingConfig):
    label_smoothing: float = 0.0


@dataclass(kw_only=True)
class DecodeConfig(decoding.DecodeConfig):
    """`strategy` is what `predict` uses; `evaluate` reports greedy and beam."""

    beam_width: int = 5
    length_penalty: float = 0.6
    seed: int | None = 0
    batch_size: int = 64  # sentences decoded together
    eval_limit: int | None = None  # evaluate on the first N test sources; None: all
    heatmaps: int = 4  # test sentences drawn in RUN/attention.png


@dataclass(kw_only=True)
class TranslationConfig(Config):
    app: str = "translation"
    data: TranslationDataConfig = field(default_factory=TranslationDataConfig)
    model: TranslationModelConfig = field(default_factory=TranslationModelConfig)
    training: TranslationTrainingConfig = field(
        default_factory=TranslationTrainingConfig
    )
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    def validate(self, origin: str = "defaults") -> None:
        from lstmsuite.apps.translation.data import SOURCES

        super().validate(origin)
        check_choice(origin, "data.source", self.data.source, SOURCES.names(), "source")


# -------------------------------------------------------------------------------- data


def load_pairs(data_cfg: TranslationDataConfig):
    """The sentence pairs of every split, from the configured source."""
    from lstmsuite.apps.translation.data import SOURCES

    return load_source(SOURCES, data_cfg)


def tokenizers(cfg: TranslationConfig, train_pairs, run_dir) -> tuple[Any, Any]:
    """The source and target tokenizers: loaded from RUN/tokenizer/ when a previous
    (or interrupted) run with the same settings learned them, else learned now from
    the training split and written there."""
    from lstmsuite.pipelines.subwords import Tokenizer, train_sentencepiece

    d = cfg.data
    folder = Path(run_dir) / "tokenizer"
    result = []
    for side, lines, size in (
        ("source", train_pairs.sources, d.source_vocab_size),
        ("target", train_pairs.targets, d.target_vocab_size),
    ):
        path = folder / f"{side}-{d.tokenizer}-{size}.model"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            model = train_sentencepiece(lines, size, d.tokenizer)
            write_bytes(path, model)
        result.append(Tokenizer.from_file(path, name=f"{side}_tok"))
    return result[0], result[1]


def encode_pairs(source_tok, target_tok, pairs):
    """Raw pairs -> ragged id tensors: source + EOS, BOS + target + EOS."""
    import tensorflow as tf

    from lstmsuite.pipelines.subwords import BOS, EOS

    src = source_tok.tokenize(tf.constant(pairs.sources, tf.string))
    tgt = target_tok.tokenize(tf.constant(pairs.targets, tf.string))
    n = len(pairs)
    eos = tf.RaggedTensor.from_tensor(tf.fill([n, 1], EOS))
    bos = tf.RaggedTensor.from_tensor(tf.fill([n, 1], BOS))
    return tf.concat([src, eos], axis=1), tf.concat([bos, tgt, eos], axis=1)


def teacher_forcing(source, target):
    """Padded batch -> ((source, target[:-1]), target[1:], weights 0 on padding)."""
    import tensorflow as tf

    target_out = target[:, 1:]
    weights = tf.cast(tf.not_equal(target_out, 0), tf.float32)
    return (source, target[:, :-1]), target_out, weights


def pair_pipeline(src, tgt, data_cfg, *, training: bool, seed: int):
    """Ragged source/target ids -> batches for `model.fit` (shared stages only)."""
    import tensorflow as tf

    from lstmsuite.pipelines import data as stages

    steps = [stages.cache(data_cfg.cache)]
    if training:
        steps.append(stages.shuffle(data_cfg.shuffle_buffer, seed))
    if data_cfg.bucket_boundaries:
        steps.append(
            stages.bucket_batch(
                data_cfg.batch_size,
                data_cfg.bucket_boundaries,
                length_fn=lambda s, t: tf.maximum(tf.shape(s)[0], tf.shape(t)[0]),
            )
        )
    else:
        steps.append(stages.pad_batch(data_cfg.batch_size))
    steps += [
        stages.parallel_map(teacher_forcing),
        stages.shard_by_data(),
        stages.prefetch(),
    ]
    return stages.apply(ragged_pairs(src, tgt), steps)


def ragged_pairs(src, tgt):
    """One (source ids, target ids) element per pair, each a dense 1-D tensor: the
    ids stay one flat buffer per side, sliced in the graph (no per-pair tensors)."""
    import tensorflow as tf

    flat_s, flat_t = src.flat_values, tgt.flat_values
    bounds = (src.row_starts(), src.row_lengths(), tgt.row_starts(), tgt.row_lengths())

    def take(s0, sn, t0, tn):
        return flat_s[s0 : s0 + sn], flat_t[t0 : t0 + tn]

    return tf.data.Dataset.from_tensor_slices(bounds).map(take)


def keep_short(src, tgt, limit: int | None):
    """Drops pairs with a side longer than `limit` tokens (computed in NumPy, so
    the dataset keeps a known size)."""
    if not limit:
        return src, tgt
    import tensorflow as tf

    keep = np.asarray(
        (src.row_lengths() <= limit) & (tgt.row_lengths() <= limit + 1)
    ).nonzero()[0]
    return tf.gather(src, keep), tf.gather(tgt, keep)


# --------------------------------------------------------------------------------- app


class TranslationApp(App):
    config_class = TranslationConfig
    infer_command = "predict"

    # ---- runner hooks
    def load_data(self, cfg: TranslationConfig, run_dir) -> Any:
        from lstmsuite.pipelines.contract import Datasets

        pairs = load_pairs(cfg.data)
        for split in ("train", "valid"):
            if not len(pairs[split]):
                raise ConfigError(
                    f"data: the {cfg.data.source} source gave no {split} pairs"
                )
        source_tok, target_tok = tokenizers(cfg, pairs["train"], run_dir)
        src, tgt = encode_pairs(source_tok, target_tok, pairs["train"])
        src, tgt = keep_short(src, tgt, cfg.data.max_train_tokens)
        vsrc, vtgt = encode_pairs(source_tok, target_tok, pairs["valid"])
        return Datasets(
            train=pair_pipeline(src, tgt, cfg.data, training=True, seed=cfg.seed),
            valid=pair_pipeline(vsrc, vtgt, cfg.data, training=False, seed=cfg.seed),
            info={
                "source_tokenizer": source_tok,
                "target_tokenizer": target_tok,
                "train_pairs": int(src.nrows()),
                **pairs.info,
            },
        )

    def build_model(self, cfg: TranslationConfig, data=None):
        from lstmsuite.apps.translation.model import build_translator

        return build_translator(
            cfg.model,
            data.info["source_tokenizer"],
            data.info["target_tokenizer"],
            seed=cfg.seed,
        )

    def compile_args(self, cfg: TranslationConfig) -> dict[str, Any]:
        import keras

        from lstmsuite.apps.translation.model import SmoothedCrossEntropy

        return {
            "loss": SmoothedCrossEntropy(cfg.training.label_smoothing),
            "weighted_metrics": [
                keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            ],
        }

    # ---- commands
    def evaluate(self, cfg: TranslationConfig, run_dir) -> dict[str, float]:
        return evaluate(cfg, run_dir)

    def predict(self, cfg: TranslationConfig, run_dir, inputs: list[str]) -> list[str]:
        model = load_translator(run_dir)
        return translate_all(
            model, inputs, make_decoder(cfg.decode), cfg.decode.batch_size
        )


# ---------------------------------------------------------------------------- decoding


def load_translator(run_dir):
    """The run's best (else last) model, loaded with safe_mode=True."""
    import lstmsuite.apps.translation.model  # noqa: F401 -- registers Translator & co.
    from lstmsuite.pipelines.contract import RunDir

    return RunDir(run_dir).load_model()


def make_decoder(decode: DecodeConfig, strategy: str | None = None):
    """The shared strategy the config asks for, over the decoder's logits."""
    from lstmsuite.pipelines.decoding import Categorical, decoder_from_config
    from lstmsuite.pipelines.subwords import EOS

    distribution = Categorical(from_logits=True)
    return decoder_from_config(decode, distribution, strategy=strategy, end_id=EOS)


def translate_all(model, sentences, decoder, batch_size: int = 64) -> list[str]:
    """Translations of `sentences` in their order; decoded in batches of similar
    length (sorted), so that little time goes into padding."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out: list[str] = [""] * len(sentences)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        for i, text in zip(
            chunk, model.translate([sentences[i] for i in chunk], decoder)
        ):
            out[i] = text
    return out


def evaluate(cfg: TranslationConfig, run_dir, split: str = "test") -> dict[str, float]:
    """BLEU and chrF of greedy and beam decoding over the distinct sources of
    `split`, every target of a source a reference."""
    from lstmsuite.apps.translation.heatmap import plot_attention
    from lstmsuite.pipelines.contract import RunDir
    from lstmsuite.pipelines.metrics import corpus_bleu, corpus_chrf

    run = RunDir(run_dir)
    model = load_translator(run_dir)
    pairs = load_pairs(cfg.data)[split]
    if not len(pairs):
        raise ConfigError(f"data: the {cfg.data.source} source gave no {split} pairs")
    references: OrderedDict[str, list[str]] = OrderedDict()
    for s, t in zip(pairs.sources, pairs.targets):
        references.setdefault(s, []).append(t)
    sources = list(references)[: cfg.decode.eval_limit or None]
    refs = [references[s] for s in sources]
    scores: dict[str, Any] = {
        "sentences": len(sources),
        "references": sum(map(len, refs)),
    }
    for name in ("greedy", "beam"):
        started = time.time()
        hyps = translate_all(
            model, sources, make_decoder(cfg.decode, name), cfg.decode.batch_size
        )
        scores[f"bleu_{name}"] = corpus_bleu(hyps, refs)
        scores[f"chrf_{name}"] = corpus_chrf(hyps, refs)
        scores[f"seconds_{name}"] = round(time.time() - started, 1)
    lines = "".join(f"{s}\t{h}\n" for s, h in zip(sources, hyps))
    write_text(run.root / "translations.txt", lines)
    if cfg.decode.heatmaps:
        plot_attention(
            model, sources[: cfg.decode.heatmaps], run.root / "attention.png"
        )
    return scores
