"""The music app: what `lstmsuite train|evaluate|generate|tune music` run.

    lstmsuite train music --config configs/music/bach.yaml --run-dir runs/music/bach
    lstmsuite evaluate music --run-dir runs/music/bach
    lstmsuite generate music --run-dir runs/music/bach --set generate.seed=7

Training is next-frame prediction on piano rolls (inputs x[:-1], targets x[1:], zero
weight on padding), so the training loss and `val_loss` are the JSB NLL in nats per
frame. `evaluate` recomputes that NLL exactly over whole test pieces (not
batch-averaged), plus frame-level precision/recall/F1. `generate` continues a primer
by sampling each new frame: its 88 keys as independent Bernoulli units
(`model.output: bernoulli`), or key after key from an RNN-NADE (`model.output:
nade`), whose keys depend on each other, so that a frame can hold a chord.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from lstmsuite.pipelines import decoding
from lstmsuite.pipelines.config import (
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    check_choice,
)
from lstmsuite.pipelines.contract import App
from lstmsuite.pipelines.sources import load_source

# ------------------------------------------------------------------------------ config


@dataclass(kw_only=True)
class AugmentConfig:
    # Training windows shifted by a random number of keys in [low, high] (only
    # shifts that keep the notes on the keyboard); [0, 0] turns it off.
    transpose: list[int] = field(default_factory=lambda: [0, 0])


@dataclass(kw_only=True)
class MusicDataConfig(DataConfig):
    source: str = "music21_bach"  # music21_bach | mat | pickle | midi_dir
    batch_size: int = 16
    max_length: int | None = 128  # random training windows of this many frames
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass(kw_only=True)
class MusicModelConfig(ModelConfig):
    input_dropout: float = 0.0  # on the input frames
    output_dropout: float = 0.0  # between the recurrent stack and the output layer
    # The next frame's distribution: an RNN-NADE over the 88 keys, or 88 independent
    # keys. NADE is the default: JSB Chorales test NLL 5.55 against 8.43 (README).
    output: Literal["bernoulli", "nade"] = "nade"
    nade_units: int = 150  # the NADE's hidden layer (output: nade)


@dataclass(kw_only=True)
class GenerateConfig(decoding.DecodeConfig):
    """The shared decode settings (88 independent keys: sample or greedy), then
    the primer and the MIDI file."""

    strategy: Literal["sample", "greedy"] = "sample"
    top_k: int = 0  # at most this many keys on per frame (0: no limit)
    frames: int = 64  # new frames (quarter notes) to generate after the primer
    primer: Literal["test", "silence"] = "test"  # a test piece's opening, or silence
    primer_frames: int = 8
    piece: int = 0  # which test piece primes (index in the test split)
    tempo_bpm: float = 100.0


@dataclass(kw_only=True)
class MusicConfig(Config):
    app: str = "music"
    data: MusicDataConfig = field(default_factory=MusicDataConfig)
    model: MusicModelConfig = field(default_factory=MusicModelConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)

    # Runs saved before `model.output` existed were all Bernoulli models.
    saved_run_defaults: ClassVar[dict[str, Any]] = {"model.output": "bernoulli"}

    def validate(self, origin: str = "defaults") -> None:
        from lstmsuite.apps.music.data import SOURCES

        super().validate(origin)
        check_choice(origin, "data.source", self.data.source, SOURCES.names(), "source")
        shifts = self.data.augment.transpose
        if len(shifts) != 2 or not shifts[0] <= 0 <= shifts[1]:
            raise ConfigError(
                f"{origin}: data.augment.transpose: expected [low, high] with "
                f"low <= 0 <= high (keys; [0, 0] for none), got {shifts!r}"
            )
        if self.model.nade_units < 1:
            raise ConfigError(
                f"{origin}: model.nade_units: expected at least 1, got "
                f"{self.model.nade_units!r}"
            )
        if self.generate.top_p != 1.0:
            # 88 independent keys: no one distribution to take a nucleus of.
            raise ConfigError(
                f"{origin}: generate.top_p: nucleus sampling needs one distribution "
                "over a vocabulary; music samples 88 independent keys, so use "
                f"generate.top_k to cap the keys on. Got {self.generate.top_p!r}"
            )


# --------------------------------------------------------------------------------- app


def load_rolls(data_cfg: MusicDataConfig) -> dict[str, list[np.ndarray]]:
    """The piano rolls of every split, from the configured source."""
    from lstmsuite.apps.music.data import SOURCES

    return load_source(SOURCES, data_cfg)


def roll_pipeline(rolls, cfg: MusicConfig, *, training: bool, data_cfg=None):
    """Batches of next-frame examples for the configured output model.

    Bernoulli: (frames, next frames, weights). NADE: the model also reads the next
    frames (its conditionals are teacher-forced), so the inputs are a dict of both.
    """
    from lstmsuite.apps.music.augment import random_transpose
    from lstmsuite.pipelines.data import next_step, sequence_pipeline

    data_cfg = data_cfg or cfg.data
    transform = next_step
    if cfg.model.output == "nade":

        def transform(seq):
            x, y, w = next_step(seq)
            return {"frames": x, "next_frames": y}, y, w

    low, high = data_cfg.augment.transpose
    return sequence_pipeline(
        rolls,
        data_cfg,
        training=training,
        seed=cfg.seed,
        transform=transform,
        augment=[random_transpose(low, high, cfg.seed + 2)],
    )


class MusicApp(App):
    config_class = MusicConfig
    infer_command = "generate"

    # ---- runner hooks
    def load_data(self, cfg: MusicConfig, run_dir) -> Any:
        from lstmsuite.pipelines.contract import Datasets

        rolls = load_rolls(cfg.data)
        for split in ("train", "valid"):
            if not rolls.get(split):
                raise ConfigError(
                    f"data: the {cfg.data.source} source gave no {split} pieces"
                )
        return Datasets(
            train=roll_pipeline(rolls["train"], cfg, training=True),
            valid=roll_pipeline(rolls["valid"], cfg, training=False),
            info=dict(getattr(rolls, "info", {}) or {}),
        )

    def build_model(self, cfg: MusicConfig, data=None):
        from lstmsuite.apps.music.model import build_model

        return build_model(cfg.model, seed=cfg.seed)

    def compile_args(self, cfg: MusicConfig) -> dict[str, Any]:
        from lstmsuite.apps.music.model import FrameNLL

        return {"loss": FrameNLL()}

    # ---- commands
    def evaluate(self, cfg: MusicConfig, run_dir) -> dict[str, float]:
        return evaluate_rolls(cfg, run_dir, split="test")

    def generate(self, cfg: MusicConfig, run_dir, output: str | None) -> list[str]:
        return generate(cfg, run_dir, output)


def evaluate_rolls(cfg: MusicConfig, run_dir, split: str = "test") -> dict[str, Any]:
    """NLL (nats per predicted frame) and frame P/R/F1 over every piece of `split`.

    For the NADE output, the NLL is exact (the product of its conditionals), and the
    frames that P/R/F1 score are decoded greedily key by key (each key on when its
    conditional, given the keys chosen below it, is at least 0.5), which is what
    thresholding at 0.5 means for independent keys.
    """
    from lstmsuite.apps.music.model import is_nade
    from lstmsuite.pipelines.contract import RunDir
    from lstmsuite.pipelines.metrics import PianoRollScores

    run = RunDir(run_dir)
    model = run.load_model()
    nade = is_nade(model)
    output = "nade" if nade else "bernoulli"  # what the saved model is, not the config
    cfg = _replace(cfg, model=_replace(cfg.model, output=output))
    rolls = load_rolls(cfg.data)
    if not rolls.get(split):
        raise ConfigError(f"data: the {cfg.data.source} source gave no {split} pieces")
    # Whole pieces, no crop, no shuffle: every predicted frame is scored once.
    data_cfg = _replace(cfg.data, max_length=None, bucket_boundaries=[], cache=False)
    scores = PianoRollScores()
    reader = NADEScores(model) if nade else None
    for x, y, w in roll_pipeline(rolls[split], cfg, training=False, data_cfg=data_cfg):
        probs = model.predict_on_batch(x)
        predicted = reader.greedy(x["frames"]) if nade else None
        scores.update(probs, y.numpy(), w.numpy(), predicted=predicted)
    result: dict[str, Any] = {"output": cfg.model.output, **scores.result()}
    result["frames"] = int(result["frames"])
    result["pieces"] = len(rolls[split])
    return result


class NADEScores:
    """A NADE music model read as a decoding distribution: `scores(frames)` (B, T,
    88 + H) are each step's NADE biases (from the recurrent state), for
    `self.distribution` (a `lstmsuite.pipelines.decoding.NADE`)."""

    def __init__(self, model):
        from lstmsuite.apps.music.model import context_model

        self.context = context_model(model)
        self.nade = model.get_layer("nade")
        self.distribution = self.nade.distribution()

    def scores(self, frames, step: int | None = None):
        """Every step's scores, or only those of `step` (B, 88 + H)."""
        context = np.asarray(self.context.predict_on_batch(frames))
        if step is not None:
            return self.nade.scores(context[:, step])
        batch, steps, width = context.shape
        return self.nade.scores(context.reshape(-1, width)).reshape(batch, steps, -1)

    def greedy(self, frames):
        """The greedy next frame after every step of `frames`: (B, T, 88)."""
        scores = self.scores(frames)
        chosen = self.distribution.greedy(scores.reshape(-1, scores.shape[-1]))
        return chosen.reshape(*scores.shape[:2], -1)


def _replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


# -------------------------------------------------------------------------- generation


def generate(cfg: MusicConfig, run_dir, output: str | None = None) -> list[str]:
    """Continues a primer for `generate.frames` frames; writes .mid and .png."""
    from lstmsuite.apps.music.midi import plot_piano_roll, write_midi
    from lstmsuite.pipelines.contract import RunDir

    gen = cfg.generate
    seed = cfg.seed if gen.seed is None else gen.seed
    run = RunDir(run_dir)
    model = run.load_model()
    primer = make_primer(cfg)
    roll = continue_roll(model, primer, gen.frames, gen, seed=cfg.seed)
    out = Path(output) if output else run.root / "generated" / f"sample-{seed}.mid"
    if out.suffix.lower() not in (".mid", ".midi"):
        out = out.with_suffix(".mid")
    midi = write_midi(roll, out, tempo_bpm=gen.tempo_bpm)
    title = (
        f"{gen.frames} frames after a {len(primer)}-frame {gen.primer} primer, "
        f"{gen.strategy} T={gen.temperature} seed={seed}"
    )
    png = plot_piano_roll(roll, out.with_suffix(".png"), title=title)
    return [str(midi), str(png)]


def make_primer(cfg: MusicConfig) -> np.ndarray:
    gen = cfg.generate
    if gen.primer == "silence":
        return np.zeros((1, 88), dtype=np.float32)
    rolls = load_rolls(cfg.data)
    test = rolls.get("test") or []
    if not test:
        raise ConfigError("generate.primer: the data has no test split; use silence")
    if not 0 <= gen.piece < len(test):
        raise ConfigError(
            f"generate.piece: {gen.piece} is out of range (the test split has "
            f"{len(test)} pieces)"
        )
    return np.asarray(test[gen.piece][: max(1, gen.primer_frames)], np.float32)


def continue_roll(
    model, primer: np.ndarray, frames: int, gen: GenerateConfig, seed: int = 0
) -> np.ndarray:
    """primer (P, 88) followed by `frames` frames drawn from the model: (P+frames, 88).

    The step function keeps a fixed-size frame buffer and reads the causal model's
    output at the current position: the zeros after that position do not matter,
    and the fixed shape means the predict function is traced only once. The
    strategy (`gen.strategy`, temperature, top-k) comes from the shared
    `lstmsuite.pipelines.decoding`, over a `Bernoulli` (independent keys: the
    model's probabilities) or a `NADE` (the scores are the NADE's biases, read from
    the recurrent state; keys are then drawn one after another).
    """
    from lstmsuite.apps.music.model import is_nade
    from lstmsuite.pipelines.decoding import Bernoulli, decoder_from_config

    length = len(primer) + frames
    buffer = np.zeros((1, length, 88), dtype=np.float32)
    buffer[0, : len(primer)] = primer
    if is_nade(model):
        reader = NADEScores(model)
        distribution = reader.distribution

        def scores_at(t):
            return reader.scores(buffer, step=t)

    else:
        distribution = Bernoulli()

        def scores_at(t):
            return np.asarray(model.predict_on_batch(buffer))[:, t]

    def step_fn(t, last):
        buffer[0, t] = last[0]
        return scores_at(t), t + 1

    decoder = decoder_from_config(gen, distribution, seed=seed)
    decoded = decoder.decode(step_fn, len(primer) - 1, primer[-1:], frames)
    return np.concatenate([primer, decoded.sequences[0]], axis=0).astype(np.float32)


# ------------------------------------------------------------------------------- bench


def bench_cells(argv: list[str]) -> int:
    """`lstmsuite bench music [--config F] [--cells lstm,gru] [--set K=V]...`: the
    JSB Chorales study, i.e. `lstmsuite study music` with this benchmark's config
    and cells (kept for the commands already written down)."""
    import argparse

    from lstmsuite.pipelines.study import parse_cells, study

    parser = argparse.ArgumentParser(prog="lstmsuite bench music")
    parser.add_argument("--config", default="configs/music/jsb.yaml")
    parser.add_argument("--cells", default="lstm,peephole,cifg,lstmp,layernorm,gru")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--run-dir", default="runs/music/bench")
    args = parser.parse_args(argv)
    cells = parse_cells(args.cells)
    # LSTMP needs its projection width; the other cells refuse the argument.
    per_cell = {"lstmp": ["model.cell_options.proj_units=64"]}
    per_cell = {cell: sets for cell, sets in per_cell.items() if cell in cells}
    study(
        MusicApp(),
        "music",
        args.config,
        args.overrides,
        cells,
        args.run_dir,
        cell_overrides=per_cell,
    )
    return 0
