"""Speech recognition: spoken digits and digit strings (FSDD), BiLSTM and CTC.

`lstmsuite train speech --config speech/digits` classifies isolated digits;
`--config speech/strings` transcribes connected digit strings with CTC.
"""
