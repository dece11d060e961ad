"""The music app: what `lstmsuite train|evaluate|generate|tune music` run.

    lstmsuite train music --config configs/music/bach.yaml --run-dir runs/music/bach
    lstmsuite evaluate music --run-dir runs/music/bach
    lstmsuite generate music --run-dir runs/music/bach --set generate.seed=7

Training is next-frame prediction on piano rolls (inputs x[:-1], targets x[1:], zero
weight on padding), so the training loss and `val_loss` are the JSB NLL in nats per
frame. `evaluate` recomputes that NLL exactly over whole test pieces (not
batch-averaged), plus frame-level precision/recall/F1. `generate` continues a primer
by sampling the 88 keys of each new frame as independent Bernoulli units.
"""

from __future__ import annotations

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
from lstmsuite.pipelines.contract import App
from lstmsuite.pipelines.sources import load_source

# ------------------------------------------------------------------------------ config


@dataclass(kw_only=True)
class MusicDataConfig(DataConfig):
    source: str = "music21_bach"  # music21_bach | mat | pickle | midi_dir
    batch_size: int = 16
    max_length: int | None = 128  # random training windows of this many frames


@dataclass(kw_only=True)
class MusicModelConfig(ModelConfig):
    input_dropout: float = 0.0  # on the input frames
    output_dropout: float = 0.0  # between the recurrent stack and the output layer


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

    def validate(self, origin: str = "defaults") -> None:
        from lstmsuite.apps.music.data import SOURCES

        super().validate(origin)
        check_choice(origin, "data.source", self.data.source, SOURCES.names(), "source")
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


class MusicApp(App):
    config_class = MusicConfig
    infer_command = "generate"

    # ---- runner hooks
    def load_data(self, cfg: MusicConfig, run_dir) -> Any:
        from lstmsuite.pipelines.contract import Datasets
        from lstmsuite.pipelines.data import sequence_pipeline

        rolls = load_rolls(cfg.data)
        for split in ("train", "valid"):
            if not rolls.get(split):
                raise ConfigError(
                    f"data: the {cfg.data.source} source gave no {split} pieces"
                )
        return Datasets(
            train=sequence_pipeline(
                rolls["train"], cfg.data, training=True, seed=cfg.seed
            ),
            valid=sequence_pipeline(
                rolls["valid"], cfg.data, training=False, seed=cfg.seed
            ),
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


def evaluate_rolls(cfg: MusicConfig, run_dir, split: str = "test") -> dict[str, float]:
    """NLL (nats per predicted frame) and frame P/R/F1 over every piece of `split`."""
    from lstmsuite.pipelines.contract import RunDir
    from lstmsuite.pipelines.data import sequence_pipeline
    from lstmsuite.pipelines.metrics import PianoRollScores

    run = RunDir(run_dir)
    model = run.load_model()
    rolls = load_rolls(cfg.data)
    if not rolls.get(split):
        raise ConfigError(f"data: the {cfg.data.source} source gave no {split} pieces")
    # Whole pieces, no crop, no shuffle: every predicted frame is scored once.
    data_cfg = _replace(cfg.data, max_length=None, bucket_boundaries=[], cache=False)
    scores = PianoRollScores()
    for x, y, w in sequence_pipeline(rolls[split], data_cfg, training=False, seed=0):
        probs = model.predict_on_batch(x)
        scores.update(probs, y.numpy(), w.numpy())
    result = scores.result()
    result["frames"] = int(result["frames"])
    result["pieces"] = len(rolls[split])
    return result


def _replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


# -------------------------------------------------------------------------- generation


def generate(cfg: MusicConfig, run_dir, output: str | None = None) -> list[str]:
    """Continues a primer for `generate.frames` frames; writes .mid and .png."""
    from lstmsuite.apps.music.midi import plot_piano_roll, write_midi
    from lstmsuite.pipelines.contract import RunDir
    from lstmsuite.pipelines.decoding import Bernoulli, decoder_from_config

    gen = cfg.generate
    seed = cfg.seed if gen.seed is None else gen.seed
    run = RunDir(run_dir)
    model = run.load_model()
    primer = make_primer(cfg)
    decoder = decoder_from_config(gen, Bernoulli(), seed=cfg.seed)
    roll = continue_roll(model, primer, gen.frames, decoder)
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


def continue_roll(model, primer: np.ndarray, frames: int, decoder) -> np.ndarray:
    """primer (P, 88) followed by `frames` frames drawn from the model: (P+frames, 88).

    The step function keeps a fixed-size frame buffer and reads the model's output at
    the current position: the model is causal, so the zeros after that position do
    not matter, and the fixed shape means the predict function is traced only once.
    `decoder` is a `lstmsuite.pipelines.decoding` strategy over a `Bernoulli`.
    """
    length = len(primer) + frames
    buffer = np.zeros((1, length, 88), dtype=np.float32)
    buffer[0, : len(primer)] = primer

    def step_fn(t, last):
        buffer[0, t] = last[0]
        probs = np.asarray(model.predict_on_batch(buffer))[:, t]
        return probs, t + 1

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
