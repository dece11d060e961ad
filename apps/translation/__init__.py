"""Machine translation: an LSTM encoder-decoder with attention, raw strings in and out.

See apps/translation/README.md for the data sources, commands and measured results.
"""
