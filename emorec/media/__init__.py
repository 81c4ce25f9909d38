"""Media: decoding, face detection and crops, 16 kHz audio, and the features computed from
them. Each feature has one function here, used by the dataset builder, the models' own
graphs and the streaming predictor alike, so training and serving see the same numbers."""
