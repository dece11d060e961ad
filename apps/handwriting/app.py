"""The handwriting app: what `lstmsuite train|evaluate|predict|tune handwriting` run.

    lstmsuite train handwriting --config configs/handwriting/digits_lines.yaml \
        --run-dir runs/handwriting/digits
    lstmsuite evaluate handwriting --run-dir runs/handwriting/digits
    lstmsuite predict handwriting --run-dir runs/handwriting/digits line1.png line2.png

Training minimizes the CTC loss of a CNN + bidirectional LSTM (model.py) on line
images from a data source (data.py), batched by pipeline.py. `train` also writes
`alphabet.json` into the run directory: the characters of the training
transcriptions, in the order of the model's output classes (class 0 is the blank).

`evaluate` decodes every test line greedily and with beam search (`decode.
beam_width`; also constrained to `decode.lexicon` when one is given) and reports the
CER, WER and line accuracy of each. `predict` prints one transcription per image,
with `decode.strategy` (beam by default). Both read only the run directory: the
saved config, `checkpoints/best.keras` (loaded in safe mode) and `alphabet.json`.
"""

from __future__ import annotations

import warnings
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
    check_choice,
)
from lstmsuite.pipelines.contract import App, UnreadableInputsError
from lstmsuite.pipelines.sources import load_source

ALPHABET_FILE = "alphabet.json"

# ------------------------------------------------------------------------------ config


@dataclass(kw_only=True)
class HandwritingDataConfig(DataConfig):
    source: str = "digits_lines"  # digits_lines | mnist_lines | iam | folder
    height: int = 32  # every image is resized to this height, keeping its aspect
    max_width: int = 2048  # wider images (after resizing) are squeezed to this
    alphabet: str | None = None  # None: every character of the training texts
    batch_size: int = 32


@dataclass(kw_only=True)
class HandwritingModelConfig(ModelConfig):
    units: int = 128
    num_layers: int = 2
    conv_filters: list[int] = field(default_factory=lambda: [32, 64, 128])
    # (height, width) max-pooling after each conv block; the widths' product is the
    # horizontal downsampling (output frames = ceil(image width / product)).
    conv_pools: list[list[int]] = field(
        default_factory=lambda: [[2, 2], [2, 2], [2, 1]]
    )
    convs_per_block: int = 1
    feature_units: int = 128  # Dense width of each frame's CNN features (0: none)
    feature_dropout: float = 0.0  # on the frame features, before the recurrent stack
    output_dropout: float = 0.0  # before the output layer


@dataclass(kw_only=True)
class DecodeConfig(decoding.DecodeConfig):
    """CTC strategies: `strategy` is what `predict` prints; `evaluate` reports
    greedy, beam and (with a lexicon) lexicon."""

    strategy: Literal["greedy", "beam", "lexicon"] = "beam"
    # Before `strategy`, the name of the same setting; kept so that older run
    # directories load. It wins when set.
    predict: Literal["greedy", "beam"] | None = None
    beam_width: int = 10
    lexicon: str | None = None  # a text file, one word a line: constrained decoding
    batch_size: int = 64  # lines per batch in evaluate and predict
    # After each epoch, decode this many validation lines greedily and print the
    # CER (0: off). Costs one forward pass over them.
    monitor_lines: int = 256


@dataclass(kw_only=True)
class HandwritingConfig(Config):
    app: str = "handwriting"
    data: HandwritingDataConfig = field(default_factory=HandwritingDataConfig)
    model: HandwritingModelConfig = field(default_factory=HandwritingModelConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    def validate(self, origin: str = "defaults") -> None:
        from lstmsuite.apps.handwriting.data import SOURCES
        from lstmsuite.apps.handwriting.model import check_model_config

        super().validate(origin)
        check_choice(origin, "data.source", self.data.source, SOURCES.names(), "source")
        check_model_config(self.model, self.data.height)


# -------------------------------------------------------------------------------- data


def load_splits(data_cfg: HandwritingDataConfig):
    """The configured source's `LineSplits`, config problems named by key."""
    from lstmsuite.apps.handwriting.data import SOURCES

    if data_cfg.max_length is not None:
        raise ConfigError(
            "data.max_length: lines cannot be cropped (their text would no longer "
            "match); use data.max_width to limit image widths"
        )
    splits = load_source(SOURCES, data_cfg)
    skipped = splits.info.get("skipped") or []
    if skipped:
        print(f"{splits.info['source']}: {len(skipped)} unreadable images skipped")
    return splits


def make_alphabet(data_cfg: HandwritingDataConfig, train):
    """`data.alphabet`, or every character of the training transcriptions.

    With a given alphabet, a training transcription with another character is an
    error that says which characters and lines (the model could never output it).
    """
    from lstmsuite.pipelines.alphabet import Alphabet, report_unknown

    texts = train.transcriptions()
    if data_cfg.alphabet is None:
        return (
            Alphabet.build(texts)
            if texts is not None
            else Alphabet(sorted(train.charset()))
        )
    alphabet = Alphabet(data_cfg.alphabet)
    if texts is None:
        missing = train.charset() - set(alphabet.chars)
        if missing:
            raise ConfigError(
                f"data.alphabet: the training lines use characters outside it: "
                f"{', '.join(map(repr, sorted(missing)))}"
            )
        return alphabet
    _, message = report_unknown(alphabet, texts, train.names, "train")
    if message:
        raise ConfigError(f"data.alphabet: {message}; add them or leave it unset")
    return alphabet


def usable_for_loss(split, alphabet, where: str):
    """`split` without the lines whose text the alphabet cannot encode (a CTC loss
    needs every label), with a warning that says what was dropped."""
    from lstmsuite.pipelines.alphabet import report_unknown

    texts = split.transcriptions()
    if texts is None:
        return split
    bad, message = report_unknown(alphabet, texts, split.names, where)
    if message and not hasattr(split, "without"):
        raise ConfigError(f"data: {message}")
    if message:
        warnings.warn(
            f"{message}. They are left out of the {where} loss.", stacklevel=2
        )
        split = split.without(bad)
    if len(split) == 0:
        raise ConfigError(f"data: no {where} line can be written with the alphabet")
    return split


def save_alphabet(alphabet, run_dir) -> None:
    from lstmsuite.pipelines.alphabet import save_for_run

    save_for_run(alphabet, Path(run_dir) / ALPHABET_FILE)


# --------------------------------------------------------------------------------- app


class HandwritingApp(App):
    config_class = HandwritingConfig
    infer_command = "predict"

    # ---- runner hooks
    def load_data(self, cfg: HandwritingConfig, run_dir) -> Any:
        from lstmsuite.apps.handwriting.model import check_model_config, downsampling
        from lstmsuite.apps.handwriting.pipeline import line_pipeline
        from lstmsuite.pipelines.contract import Datasets

        check_model_config(cfg.model, cfg.data.height)
        splits = load_splits(cfg.data)
        alphabet = make_alphabet(cfg.data, splits["train"])
        save_alphabet(alphabet, run_dir)
        valid = usable_for_loss(splits["valid"], alphabet, "valid")
        factor = downsampling(cfg.model)

        def pipeline(split, training):
            return line_pipeline(
                split, cfg.data, alphabet, factor, training=training, seed=cfg.seed
            )

        self._monitor = (valid, alphabet)
        return Datasets(
            train=pipeline(splits["train"], True),
            valid=pipeline(valid, False),
            info={"alphabet": alphabet, "splits": splits.info},
        )

    def build_model(self, cfg: HandwritingConfig, data=None):
        from lstmsuite.apps.handwriting.model import build_model
        from lstmsuite.pipelines.alphabet import Alphabet

        alphabet = data.info["alphabet"] if data is not None else None
        if not isinstance(alphabet, Alphabet):
            raise ValueError("build_model needs the Datasets from load_data")
        return build_model(
            cfg.model, cfg.data.height, alphabet.num_classes, seed=cfg.seed
        )

    def compile_args(self, cfg: HandwritingConfig) -> dict[str, Any]:
        from lstmsuite.apps.handwriting.model import CTCLoss

        return {"loss": CTCLoss()}

    def callbacks(self, cfg: HandwritingConfig, run_dir) -> list[Any]:
        monitor = getattr(self, "_monitor", None)
        if not cfg.decode.monitor_lines or monitor is None:
            return []
        from lstmsuite.apps.handwriting.monitor import ValidationCER

        valid, alphabet = monitor
        return [ValidationCER(cfg, valid, alphabet, cfg.decode.monitor_lines)]

    # ---- commands
    def evaluate(self, cfg: HandwritingConfig, run_dir) -> dict[str, float]:
        return evaluate_lines(cfg, run_dir, split="test")

    def predict(self, cfg: HandwritingConfig, run_dir, inputs: list[str]) -> list[str]:
        return predict_images(cfg, run_dir, inputs)


# ---------------------------------------------------------------------------- decoding


class Recognizer:
    """A trained run: the model, its alphabet, and log-probs -> texts."""

    def __init__(self, cfg: HandwritingConfig, run_dir):
        import lstmsuite.apps.handwriting.model  # noqa: F401  (registers the custom layers)
        from lstmsuite.apps.handwriting.model import downsampling
        from lstmsuite.pipelines.alphabet import Alphabet
        from lstmsuite.pipelines.contract import RunDir

        run = RunDir(run_dir)
        self.model = run.load_model()
        self.alphabet = Alphabet.load(run.root / ALPHABET_FILE)
        self.factor = downsampling(cfg.model)
        self.decode_cfg = cfg.decode
        self.lexicon = load_lexicon(cfg.decode.lexicon, self.alphabet)

    def log_probs(self, inputs) -> tuple[np.ndarray, np.ndarray]:
        """(B, T, classes) log-probabilities and (B,) frames of each line."""
        scores = np.asarray(self.model.predict_on_batch(inputs))
        frames = -(-np.asarray(inputs["width"]) // self.factor)
        return scores, frames

    def decode(self, scores, frames, strategy: str | None = None) -> list[str]:
        """Texts of a batch by `strategy`, by default the config's."""
        from lstmsuite.pipelines.decoding import CTC, decoder_from_config

        strategy = strategy or self.decode_cfg.predict or self.decode_cfg.strategy
        decoder = decoder_from_config(
            self.decode_cfg, CTC(), strategy=strategy, lexicon=self.lexicon
        )
        return [self.alphabet.decode(row) for row in decoder.decode(scores, frames)]


def load_lexicon(path: str | None, alphabet):
    """`decode.lexicon` (one word a line) as a CTCLexicon; words with characters
    outside the alphabet cannot be output and are left out, with a warning."""
    if not path:
        return None
    from lstmsuite.pipelines.decoding import CTCLexicon

    try:
        words = Path(path).read_text(encoding="utf-8").split()
    except OSError as e:
        raise ConfigError(
            f"decode.lexicon: cannot read {path} ({e.strerror})"
        ) from None
    usable = [w for w in dict.fromkeys(words) if not alphabet.unknown(w)]
    if len(usable) < len(set(words)):
        warnings.warn(
            f"decode.lexicon: {len(set(words)) - len(usable)} words of {path} have "
            "characters outside the alphabet and are left out",
            stacklevel=2,
        )
    if not usable:
        raise ConfigError(f"decode.lexicon: {path} has no word the model can write")
    return CTCLexicon(
        [alphabet.encode(w) for w in usable], separator=alphabet.ids.get(" ")
    )


def evaluate_lines(cfg: HandwritingConfig, run_dir, split: str = "test") -> dict:
    """CER, WER and line accuracy of greedy and beam (and lexicon) decoding over
    every line of `split`. Test characters outside the alphabet are reported and
    count as errors (the model cannot write them)."""
    from lstmsuite.apps.handwriting.pipeline import eval_pipeline
    from lstmsuite.pipelines.alphabet import report_unknown
    from lstmsuite.pipelines.metrics import ErrorRates

    recognizer = Recognizer(cfg, run_dir)
    splits = load_splits(cfg.data)
    lines = splits[split]
    unknown = 0
    texts = lines.transcriptions()
    if texts is not None:
        bad, message = report_unknown(
            recognizer.alphabet, texts, getattr(lines, "names", texts), split
        )
        if message:
            warnings.warn(f"{message}. They count as errors.", stacklevel=2)
        unknown = len(bad)
    strategies = ["greedy", "beam"] + (["lexicon"] if recognizer.lexicon else [])
    rates = {name: ErrorRates() for name in strategies}
    for inputs, refs in eval_pipeline(lines, cfg.data, cfg.decode.batch_size):
        scores, frames = recognizer.log_probs(inputs)
        refs = [ref.decode("utf-8") for ref in refs.numpy()]
        for name in strategies:
            rates[name].update(refs, recognizer.decode(scores, frames, name))
    result: dict[str, Any] = {}
    for name in strategies:
        for metric, value in rates[name].result().items():
            result[f"{metric}_{name}"] = value
    counts = rates["greedy"]
    result.update(
        lines=counts.lines,
        chars=counts.chars,
        beam_width=cfg.decode.beam_width,
        unknown_char_lines=unknown,
        skipped_images=len(splits.info.get("skipped") or []),
    )
    return result


def predict_images(cfg: HandwritingConfig, run_dir, paths: list[str]) -> list[str]:
    """One transcription per image path, in order. An unreadable image gives an
    empty line and a warning; then `UnreadableInputsError` (with every line) says
    that not all were read."""
    from lstmsuite.apps.handwriting.data import check_image
    from lstmsuite.apps.handwriting.pipeline import image_batches

    recognizer = Recognizer(cfg, run_dir)
    reasons = [check_image(path) for path in paths]
    good = [path for path, reason in zip(paths, reasons) if reason is None]
    for path, reason in zip(paths, reasons):
        if reason is not None:
            warnings.warn(f"predict: skipped {path}: {reason}", stacklevel=2)
    texts: list[str] = []
    if good:
        for inputs in image_batches(good, cfg.data, cfg.decode.batch_size):
            scores, frames = recognizer.log_probs(inputs)
            texts += recognizer.decode(scores, frames)
    found = iter(texts)
    lines = [next(found) if reason is None else "" for reason in reasons]
    failed = [(p, r) for p, r in zip(paths, reasons) if r is not None]
    if failed:
        raise UnreadableInputsError(lines, failed)
    return lines
