"""From a built RAVDESS dataset to model inputs: `datasets` finds the built dataset and reads
a fold's examples, `windows` cuts them into the windows a model takes (training and
evaluation), `augment` perturbs training windows, `speakers` computes each actor's
statistics for speaker-normalised models."""
