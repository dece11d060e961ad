"""The speech app: what `lstmsuite train|evaluate|predict|tune speech` run.

    lstmsuite train speech --config configs/speech/digits.yaml --run-dir runs/digits
    lstmsuite evaluate speech --run-dir runs/digits
    lstmsuite predict speech --run-dir runs/digits a.wav b.wav

Two tasks (`task`):

* `classify`: one label per recording (FSDD: the digit). The model pools its
  recurrent outputs over time and ends in a softmax over the training labels,
  saved as `classes.json`. `evaluate` reports the test accuracy and writes a
  confusion matrix (`confusion.png`).
* `ctc`: a transcript per recording, character by character with CTC (FSDD: digit
  strings composed from single recordings, see `strings.py`; a `folder` of
  sentences as they are). The alphabet is saved as `alphabet.json`. `evaluate`
  reports the CER, WER and string accuracy of greedy and beam decoding (the
  unsuffixed `cer`, `wer` are `decode.strategy`'s) and writes `confusion.png`: the
  words of the aligned reference and hypothesis (each digit is a word), with
  deletions and insertions against "∅" and words outside the references as
  "other".

`predict` prints one transcript (or label) per audio file. Everything inference
needs is in the run directory.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lstmsuite.apps.speech.features import (
    FeatureConfig,
    PerturbConfig,
    SpecAugmentConfig,
)
from lstmsuite.apps.speech.strings import StringsConfig
from lstmsuite.pipelines import decoding
from lstmsuite.pipelines.config import (
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    check_choice,
)
from lstmsuite.pipelines.contract import App, UnreadableInputsError, write_json
from lstmsuite.pipelines.sources import load_source

CLASSES_FILE = "classes.json"
ALPHABET_FILE = "alphabet.json"
CONFUSION_FILE = "confusion.png"
NOTHING = "∅"  # a deleted or inserted word in the CTC confusion matrix
OTHER = "other"  # a hypothesis word that is no reference word, in that matrix

# Seeds of the fixed validation and test strings, apart from the training stream.
VALID_SEED, TEST_SEED = 1_000_003, 2_000_003

# ------------------------------------------------------------------------------ config


@dataclass(kw_only=True)
class SpeechDataConfig(DataConfig):
    source: str = "fsdd"  # fsdd | folder | tfds | tones
    path: str | None = "../shared/data/fsdd"
    sample_rate: int = 8000  # every recording is resampled to this
    batch_size: int = 32
    features: FeatureConfig = field(default_factory=FeatureConfig)
    perturb: PerturbConfig = field(default_factory=PerturbConfig)  # training only
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    strings: StringsConfig = field(default_factory=StringsConfig)


@dataclass(kw_only=True)
class SpeechModelConfig(ModelConfig):
    units: int = 128
    num_layers: int = 2
    bidirectional: bool = True
    # A CNN over (time, mel bin) before the frames are stacked: one 3x3 block per
    # entry (its filters), each pooling the frequency axis by conv_pool. [] : none.
    conv_filters: list[int] = field(default_factory=list)
    conv_pool: int = 2
    frame_stack: int = 2  # consecutive frames side by side: T / frame_stack steps
    feature_units: int = 128  # Dense width after stacking (0: none)
    feature_dropout: float = 0.0
    output_dropout: float = 0.0


@dataclass(kw_only=True)
class DecodeConfig(decoding.DecodeConfig):
    """task ctc: `strategy` is what `predict` prints and what the unsuffixed `cer`
    and `wer` of `evaluate` are; both strategies are reported."""

    strategy: Literal["greedy", "beam"] = "beam"
    beam_width: int = 8
    batch_size: int = 64  # recordings per batch in evaluate and predict


@dataclass(kw_only=True)
class SpeechConfig(Config):
    app: str = "speech"
    task: Literal["classify", "ctc"] = "classify"
    data: SpeechDataConfig = field(default_factory=SpeechDataConfig)
    model: SpeechModelConfig = field(default_factory=SpeechModelConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    def validate(self, origin: str = "defaults") -> None:
        from lstmsuite.apps.speech.data import SOURCES
        from lstmsuite.apps.speech.features import (
            check_features,
            check_perturb,
            check_spec_augment,
        )
        from lstmsuite.apps.speech.strings import check_strings

        super().validate(origin)
        check_choice(origin, "data.source", self.data.source, SOURCES.names(), "source")
        check_features(self.data.sample_rate, self.data.features)
        check_strings(self.data.strings)
        check_perturb(self.data.perturb, f"{origin}: data.perturb")
        check_spec_augment(self.data.spec_augment, f"{origin}: data.spec_augment")
        if self.model.frame_stack < 1:
            raise ConfigError(
                f"{origin}: model.frame_stack: expected at least 1, got "
                f"{self.model.frame_stack}"
            )
        if any(int(f) < 1 for f in self.model.conv_filters):
            raise ConfigError(
                f"{origin}: model.conv_filters: expected positive filter counts, got "
                f"{self.model.conv_filters}"
            )
        if self.model.conv_filters and self.data.features.deltas:
            # The convolutions read a (time, frequency) plane: the delta columns
            # stacked beside the features are no neighbouring frequencies.
            raise ConfigError(
                f"{origin}: model.conv_filters with data.features.deltas: the CNN "
                "front end reads the features as a (time, frequency) plane; use "
                "one or the other"
            )
        if self.model.conv_pool < 1:
            raise ConfigError(
                f"{origin}: model.conv_pool: expected at least 1, got "
                f"{self.model.conv_pool}"
            )
        if self.data.max_length is not None:
            raise ConfigError(
                f"{origin}: data.max_length: recordings cannot be cropped (the "
                "transcript would no longer match); leave it unset"
            )
        if "rate" in self.data.options:
            raise ConfigError(
                f"{origin}: data.options.rate: the rate is data.sample_rate; set "
                "that instead"
            )


# -------------------------------------------------------------------------------- data


def load_splits(data_cfg: SpeechDataConfig):
    """The configured source's splits, every recording at `data.sample_rate`."""
    from lstmsuite.apps.speech.data import SOURCES

    options = {**data_cfg.options, "rate": data_cfg.sample_rate}
    path = data_cfg.path if data_cfg.source != "tones" else None
    splits = load_source(
        SOURCES, dataclasses.replace(data_cfg, path=path, options=options)
    )
    skipped = splits.info.get("skipped") or []
    if skipped:
        print(f"{splits.info['source']}: {len(skipped)} unreadable files skipped")
    return splits


def usable(split, known, where: str, what: str):
    """`split` without the recordings whose transcript the model cannot output
    (`known(text)` False), with a warning; an error when none is left."""
    from lstmsuite.apps.speech.data import Utterances

    bad = [i for i, text in enumerate(split.texts) if not known(text)]
    if not bad:
        return split
    warnings.warn(
        f"{where}: {len(bad)} of {len(split)} recordings have a transcript outside "
        f"the training {what} (e.g. {split.names[bad[0]]}: {split.texts[bad[0]]!r});"
        " they are left out of the loss",
        stacklevel=2,
    )
    keep = sorted(set(range(len(split))) - set(bad))
    if not keep:
        raise ConfigError(f"data: no {where} recording has a known transcript")
    out = Utterances(rate=split.rate)
    for i in keep:
        out.add(split.audio[i], split.texts[i], split.speakers[i], split.names[i])
    return out


def save_classes(classes: list[str], run_dir) -> None:
    path = Path(run_dir) / CLASSES_FILE
    if path.exists():
        previous = load_classes(run_dir)
        if previous != classes:
            raise ConfigError(
                f"{path}: this run was trained with the classes {previous} but the "
                f"data now gives {classes}; use a new --run-dir"
            )
        return
    write_json(path, {"classes": classes})


def load_classes(run_dir) -> list[str]:
    path = Path(run_dir) / CLASSES_FILE
    try:
        return list(json.loads(path.read_text(encoding="utf-8"))["classes"])
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: no classes; train this run with task classify first"
        ) from None
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a valid classes file ({e})") from None


def make_alphabet(cfg: SpeechConfig, train):
    """Every character of the training transcripts, plus the space that joins the
    words of composed strings."""
    from lstmsuite.pipelines.alphabet import Alphabet

    texts = train.transcriptions()
    if composing(cfg):
        texts = [*texts, " "]
    return Alphabet.build(texts)


def composing(cfg: SpeechConfig) -> bool:
    return cfg.task == "ctc" and cfg.data.strings.compose


def examples(cfg: SpeechConfig, split, name: str):
    """(audio, text) of a split: the recordings, or (task ctc with
    `data.strings.compose`) strings composed from them; the validation and test
    strings are fixed."""
    from lstmsuite.apps.speech.pipeline import waveforms
    from lstmsuite.apps.speech.strings import StringComposer

    if not composing(cfg):
        return waveforms(split), True
    strings = cfg.data.strings
    composer = StringComposer(split, strings)
    if name == "train":
        return composer.dataset(strings.train_strings, cfg.seed, fresh=True), False
    seed = cfg.seed + (VALID_SEED if name == "valid" else TEST_SEED)
    return composer.dataset(strings.eval_strings, seed, fresh=False), True


def targets(cfg: SpeechConfig, labels):
    from lstmsuite.apps.speech.pipeline import class_targets, ctc_targets

    if cfg.task == "classify":
        return class_targets(labels)
    return ctc_targets(labels, cfg.model.frame_stack)


# --------------------------------------------------------------------------------- app


class SpeechApp(App):
    config_class = SpeechConfig
    infer_command = "predict"

    # ---- runner hooks
    def load_data(self, cfg: SpeechConfig, run_dir) -> Any:
        from lstmsuite.apps.speech.pipeline import batches, features
        from lstmsuite.pipelines.alphabet import save_for_run
        from lstmsuite.pipelines.contract import Datasets
        from lstmsuite.pipelines.data import AUTOTUNE

        splits = load_splits(cfg.data)
        train = splits["train"]
        if cfg.task == "classify":
            labels = sorted(set(train.texts))
            save_classes(labels, run_dir)
            valid = usable(splits["valid"], set(labels).__contains__, "valid", "labels")
        else:
            labels = make_alphabet(cfg, train)
            save_for_run(labels, Path(run_dir) / ALPHABET_FILE)
            valid = usable(
                splits["valid"], lambda t: not labels.unknown(t), "valid", "alphabet"
            )
        make = targets(cfg, labels)

        def pipeline(split, name):
            training = name == "train"
            ds, fixed = examples(cfg, split, name)
            ds = features(ds, cfg.data, training=training, seed=cfg.seed, fixed=fixed)
            ds = ds.map(make, num_parallel_calls=AUTOTUNE)
            return batches(ds, cfg.data, training=training)

        return Datasets(
            train=pipeline(train, "train"),
            valid=pipeline(valid, "valid"),
            info={"labels": labels, "splits": splits.info},
        )

    def build_model(self, cfg: SpeechConfig, data=None):
        from lstmsuite.apps.speech.model import build_model

        if data is None or "labels" not in data.info:
            raise ValueError("build_model needs the Datasets from load_data")
        labels = data.info["labels"]
        classes = len(labels) if cfg.task == "classify" else labels.num_classes
        return build_model(
            cfg.model, cfg.task, cfg.data.features.dim, classes, seed=cfg.seed
        )

    def compile_args(self, cfg: SpeechConfig) -> dict[str, Any]:
        import keras

        if cfg.task == "classify":
            return {
                "loss": keras.losses.SparseCategoricalCrossentropy(),
                "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            }
        from lstmsuite.pipelines.ctc import CTCLoss

        return {"loss": CTCLoss()}

    # ---- commands
    def evaluate(self, cfg: SpeechConfig, run_dir) -> dict[str, Any]:
        from lstmsuite.apps.speech.evaluate import evaluate

        return evaluate(cfg, run_dir)

    def predict(self, cfg: SpeechConfig, run_dir, inputs: list[str]) -> list[str]:
        from lstmsuite.apps.speech.audio import AudioError, read_audio
        from lstmsuite.apps.speech.evaluate import Recognizer
        from lstmsuite.apps.speech.pipeline import file_batches

        recognizer = Recognizer(cfg, run_dir)
        audio, failed = {}, []
        for path in inputs:
            try:
                audio[path] = read_audio(path, cfg.data.sample_rate)
            except AudioError as e:
                warnings.warn(f"predict: skipped {e}", stacklevel=2)
                failed.append((path, str(e).removeprefix(f"{path}: ")))
        texts: list[str] = []
        if audio:
            batch = cfg.decode.batch_size
            for x in file_batches(list(audio.values()), cfg.data, batch):
                texts += recognizer.transcribe(x)
        found = dict(zip(audio, texts))
        lines = [found.get(path, "") for path in inputs]
        if failed:
            raise UnreadableInputsError(lines, failed)
        return lines
