"""The captioning app: what `lstmsuite train|evaluate|predict|tune captioning` run.

    lstmsuite train captioning --config configs/captioning/shapes.yaml \
        --run-dir runs/captioning/shapes
    lstmsuite evaluate captioning --run-dir runs/captioning/shapes
    lstmsuite predict captioning --run-dir runs/captioning/shapes photo.png \
        --attention-png

Training is teacher-forced next-word prediction: the model reads `<start> w1 .. wn`
with the image and predicts `w1 .. wn <end>`; padding has weight 0, so the loss is
the mean cross-entropy per real word. `evaluate` captions every test image with each
strategy of `decode.evaluate` (greedy and beam search by default, the shared
strategies of `lstmsuite.pipelines.decoding`) and scores them against all
references: corpus BLEU-1..4 and CIDEr-D (`lstmsuite.pipelines.metrics`). `predict`
prints one caption per image and, with `--attention-png`, writes the attention map
of every word over the image.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from lstmsuite.apps.captioning.config import CaptionConfig
from lstmsuite.pipelines.config import ConfigError
from lstmsuite.pipelines.contract import App, write_text

VOCAB_FILE = "vocab.json"


def make_decoder(cfg: CaptionConfig, strategy: str | None = None):
    """The shared decoding strategy `decode` names (or `strategy`)."""
    from lstmsuite.apps.captioning.tokenizer import END
    from lstmsuite.pipelines.decoding import Categorical, decoder_from_config

    return decoder_from_config(
        cfg.decode, Categorical(), strategy=strategy, end_id=END, seed=cfg.seed
    )


def load_captioner(cfg: CaptionConfig, run_dir):
    """The `Captioner` of a trained run (model, vocabulary, cached-feature encoder)."""
    import keras

    from lstmsuite.apps.captioning.features import ENCODER_FILE
    from lstmsuite.apps.captioning.inference import Captioner
    from lstmsuite.apps.captioning.tokenizer import CaptionTokenizer
    from lstmsuite.pipelines.contract import RunDir

    run = RunDir(run_dir)
    model = run.load_model()
    tokenizer = CaptionTokenizer.load(run.root / VOCAB_FILE)
    encoder = None
    if (run.root / ENCODER_FILE).exists() and "encoder" not in {
        layer.name for layer in model.layers
    }:
        encoder = keras.models.load_model(
            run.root / ENCODER_FILE, safe_mode=True, compile=False
        )
    return Captioner(model, tokenizer, encoder)


class CaptioningApp(App):
    config_class = CaptionConfig
    infer_command = "predict"

    # ---- runner hooks
    def load_data(self, cfg: CaptionConfig, run_dir) -> Any:
        from lstmsuite.apps.captioning import data as sources
        from lstmsuite.apps.captioning.encoder import normalizer
        from lstmsuite.apps.captioning.pipeline import CaptionTokens, caption_pipeline
        from lstmsuite.apps.captioning.tokenizer import CaptionTokenizer
        from lstmsuite.pipelines.contract import Datasets

        data = sources.load(cfg.data)
        vocab_path = Path(run_dir) / VOCAB_FILE
        if vocab_path.exists():  # a resumed run keeps its word ids
            tokenizer = CaptionTokenizer.load(vocab_path)
        else:
            tokenizer = CaptionTokenizer.fit(
                (c for refs in data["train"].captions for c in refs),
                min_count=cfg.data.min_word_count,
                max_words=cfg.data.max_words,
            )
            tokenizer.save(vocab_path)
        normalize = normalizer(cfg.encoder.name)
        features: dict[str, np.ndarray | None] = {"train": None, "valid": None}
        if cfg.data.cache_features:
            from lstmsuite.apps.captioning.features import (
                cached_features,
                frozen_encoder,
            )

            encoder = frozen_encoder(cfg, run_dir)
            for split in features:
                features[split] = cached_features(
                    encoder, data[split], cfg, normalize, verbose=cfg.runtime.verbose
                )
        pipelines = {
            split: caption_pipeline(
                data[split],
                CaptionTokens.encode(
                    data[split], tokenizer, cfg.data.max_caption_words
                ),
                cfg.data,
                training=split == "train",
                seed=cfg.seed,
                normalize=normalize,
                features=features[split],
            )
            for split in ("train", "valid")
        }
        info = {**data.info, "vocab_size": len(tokenizer)}
        if features["train"] is not None:
            info["feature_shape"] = tuple(features["train"].shape[1:])
        return Datasets(train=pipelines["train"], valid=pipelines["valid"], info=info)

    def build_model(self, cfg: CaptionConfig, data=None):
        from lstmsuite.apps.captioning.model import build_model

        return build_model(cfg, data.info["vocab_size"], data.info.get("feature_shape"))

    def compile_args(self, cfg: CaptionConfig) -> dict[str, Any]:
        import keras

        return {
            "loss": keras.losses.SparseCategoricalCrossentropy(
                reduction="mean_with_sample_weight"
            ),
            "weighted_metrics": [keras.metrics.SparseCategoricalAccuracy(name="acc")],
        }

    # ---- commands
    def evaluate(self, cfg: CaptionConfig, run_dir) -> dict[str, float]:
        return evaluate_split(cfg, run_dir, "test")

    def predict(
        self, cfg: CaptionConfig, run_dir, inputs: list[str], attention_png=False
    ) -> list[str]:
        return predict_files(cfg, run_dir, inputs, attention_png)


def caption_split(cfg: CaptionConfig, captioner, split, strategy: str):
    """Captions (word lists) of every image of a split, in order."""
    from lstmsuite.apps.captioning.encoder import normalizer
    from lstmsuite.apps.captioning.pipeline import image_batches

    batches = image_batches(
        split.images,
        cfg.data.image_size,
        cfg.decode.batch_size,
        normalizer(cfg.encoder.name),
    )
    decoder = make_decoder(cfg, strategy)
    out = []
    for images in batches:
        out += captioner.caption(
            images.numpy(), decoder=decoder, max_words=cfg.decode.max_words
        )
    return out


def evaluate_split(cfg: CaptionConfig, run_dir, split_name: str = "test"):
    """Corpus BLEU-1..4 and CIDEr-D of each `decode.evaluate` strategy on a split;
    also writes RUN/captions-<split>.tsv (image, each strategy's caption, a
    reference)."""
    from lstmsuite.apps.captioning import data as sources
    from lstmsuite.apps.captioning.tokenizer import words
    from lstmsuite.pipelines.metrics import cider_d, corpus_bleu_scores

    captioner = load_captioner(cfg, run_dir)
    split = sources.load(cfg.data)[split_name]
    references = [[words(c) for c in refs] for refs in split.captions]
    scores: dict[str, Any] = {}
    captions = {}
    for strategy in cfg.decode.evaluate:
        captions[strategy] = caption_split(cfg, captioner, split, strategy)
        hypotheses = [c.words for c in captions[strategy]]
        for key, value in corpus_bleu_scores(hypotheses, references).items():
            scores[f"{strategy}_{key}"] = value
        scores[f"{strategy}_cider_d"] = cider_d(hypotheses, references)
    scores["images"] = len(split)
    scores["references"] = sum(map(len, references))
    lines = ["image\t" + "\t".join(captions) + "\treference"]
    for k, name in enumerate(split.names or map(str, range(len(split)))):
        shown = [" ".join(captions[s][k].words) for s in captions]
        lines.append("\t".join([name, *shown, split.captions[k][0]]))
    write_text(Path(run_dir, f"captions-{split_name}.tsv"), "\n".join(lines) + "\n")
    return scores


def predict_files(cfg: CaptionConfig, run_dir, paths: list[str], attention_png=False):
    """`path<TAB>caption` per image file; attention PNGs in decode.attention_dir
    (default RUN/attention) when asked."""
    from lstmsuite.apps.captioning.encoder import normalizer
    from lstmsuite.apps.captioning.pipeline import load_image_files
    from lstmsuite.apps.captioning.plots import plot_attention

    paths = [p for p in paths if p.strip()]
    if not paths:
        raise ValueError("predict captioning: give one or more image files")
    captioner = load_captioner(cfg, run_dir)
    if attention_png and not captioner.attention:
        raise ConfigError(
            "--attention-png: this run's decoder is show_and_tell, which has no "
            "attention; train with model.decoder: show_attend_tell"
        )
    pixels = load_image_files(paths, cfg.data.image_size)
    images = np.asarray(normalizer(cfg.encoder.name)(pixels.astype(np.float32)))
    decoder = make_decoder(cfg)
    lines, captions = [], []
    for start in range(0, len(paths), cfg.decode.batch_size):
        batch = images[start : start + cfg.decode.batch_size]
        captions += captioner.caption(
            batch, decoder=decoder, max_words=cfg.decode.max_words
        )
    for path, caption in zip(paths, captions):
        lines.append(f"{path}\t{' '.join(caption.words)}")
    if attention_png:
        out_dir = Path(cfg.decode.attention_dir or Path(run_dir) / "attention")
        maps = captioner.attention_maps(images, captions)
        for k, path in enumerate(paths):
            png = out_dir / f"{Path(path).stem}.attention.png"
            plot_attention(pixels[k], captions[k].words, maps[k], png)
            print(f"attention map: {png}", file=sys.stderr)
    return lines
