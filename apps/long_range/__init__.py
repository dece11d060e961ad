"""The long-range dependency lab: why the LSTM exists, measured and drawn."""
