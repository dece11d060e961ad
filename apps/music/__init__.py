"""Polyphonic music: predict the next piano-roll frame, evaluate NLL, generate MIDI.

See apps/music/README.md for the data sources, commands and measured results.
"""
