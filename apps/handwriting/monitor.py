"""A training callback that prints the greedy CER on some validation lines per epoch.

    lstmsuite train handwriting --config configs/handwriting/digits_lines.yaml \
        --set decode.monitor_lines=512

The loss says how likely the right text is; the CER says how often the model
writes it. Decoding a few hundred validation lines greedily costs one forward pass
over them, so `decode.monitor_lines` (0 turns it off) keeps it small.
"""

from __future__ import annotations

import keras
import numpy as np


class ValidationCER(keras.callbacks.Callback):
    """Prints `val greedy CER on N lines: x%` at the end of every epoch."""

    def __init__(self, cfg, valid, alphabet, lines: int):
        super().__init__()
        from lstmsuite.apps.handwriting.model import downsampling
        from lstmsuite.apps.handwriting.pipeline import eval_pipeline

        self.alphabet = alphabet
        self.factor = downsampling(cfg.model)
        batch = max(1, min(cfg.decode.batch_size, lines))
        self.batches = eval_pipeline(valid, cfg.data, batch).take(-(-lines // batch))
        self.batches = self.batches.cache()  # the same lines every epoch

    def on_epoch_end(self, epoch, logs=None):
        from lstmsuite.pipelines.decoding import ctc_greedy
        from lstmsuite.pipelines.metrics import ErrorRates

        rates = ErrorRates()
        for inputs, refs in self.batches:
            scores = np.asarray(self.model.predict_on_batch(inputs))
            frames = -(-inputs["width"].numpy() // self.factor)
            hyps = [self.alphabet.decode(row) for row in ctc_greedy(scores, frames)]
            rates.update([r.decode("utf-8") for r in refs.numpy()], hyps)
        cer = rates.result()["cer"]
        print(f"epoch {epoch + 1}: val greedy CER on {rates.lines} lines: {cer:.2%}")
