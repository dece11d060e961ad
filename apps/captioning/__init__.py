"""Image captioning: CNN encoder, LSTM decoder (Show and Tell, Show Attend and Tell)."""
