"""The parts of the training loop behind :func:`twistfm.train.fit`.

:mod:`.events` (what callbacks are told, and how often), :mod:`.steps` (optimiser,
learning-rate schedule, augmentation, precision), :mod:`.evaluation` (predictions, metrics,
test-time augmentation), :mod:`.loop` (the epochs) and :mod:`.writers` (the callbacks that
write a run folder and the per-epoch line). The public names are in :mod:`twistfm.train`.
"""
