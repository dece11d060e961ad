"""Handwriting recognition: CNN + bidirectional LSTM read text lines (CTC)."""
