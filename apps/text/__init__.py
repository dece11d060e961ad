"""Text generation: a character-level LSTM language model, streaming generation.

`lstmsuite train|evaluate|generate text`; characters, bytes or subwords.
"""
