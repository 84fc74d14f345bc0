"""Errors a person can act on. Each message says what failed, why and how to fix it.

They subclass the built-in types that ``cliprt``'s entry point prints without a
traceback (ValueError, FileNotFoundError).
"""

from __future__ import annotations

from cliprt_envs.errors import MissingExtraError


class CheckpointError(ValueError):
    """A checkpoint that is missing, damaged, or does not fit the model asked for."""


class VocabularyMismatchError(ValueError):
    """The motion vocabulary given does not match the one a checkpoint was trained on."""


class PretrainedWeightsUnavailableError(FileNotFoundError):
    """open_clip weights that are neither on this machine nor downloadable right now."""


class MissingDependencyError(MissingExtraError):
    """An optional dependency (an extra) is not installed."""


class DeviceUnavailableError(ValueError):
    """A torch device (e.g. "cuda") that this machine or this torch build does not have."""


class WeightsFileError(ValueError):
    """A local pretrained-weights file that is not open_clip weights for the model asked for."""
