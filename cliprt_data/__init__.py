"""cliprt_data: episodes, recording, teleoperation, trajectory augmentation, conversion, datasets.

Modules (imported on first use, so ``import cliprt_data`` stays cheap):

- :mod:`cliprt_data.storage`: the on-disk format (Minari HDF5 + a commit manifest), reading, checking, repair
  (sub-modules ``format``, ``episode``, ``check``, ``reader``, ``writer``, ``repair``);
- :mod:`cliprt_data.recorder`: :class:`DatasetRecorder`, a Gymnasium wrapper that records episodes;
- :mod:`cliprt_data.translate`: supervision text -> motion (offline rules, or an OpenAI-compatible LLM), and
  :class:`~cliprt_data.translate.Translator`, the project's one translator protocol;
- :mod:`cliprt_data.teleop`: language-based teleoperation and scripted collection (users, viewer, session, collect);
- :mod:`cliprt_data.augment`: stochastic trajectory augmentation (STA): ``plan`` (no env), ``execute``, ``dataset``;
- :mod:`cliprt_data.convert`: low-level end-effector deltas -> language supervision;
- :mod:`cliprt_data.datasets`: the PyTorch dataset for training (needs torch).
"""

from __future__ import annotations

from cliprt_data._util import lazy_exports

_EXPORTS = {
    "DatasetRecorder": "cliprt_data.recorder",
    "RecorderConfig": "cliprt_data.recorder",
    "DatasetReader": "cliprt_data.storage",
    "DatasetWriter": "cliprt_data.storage",
    "DatasetError": "cliprt_data.storage",
    "DatasetCorruptedError": "cliprt_data.storage",
    "StorageConfig": "cliprt_data.storage",
    "check_dataset": "cliprt_data.storage",
    "open_minari": "cliprt_data.storage",
    "repair_dataset": "cliprt_data.storage",
    "RuleTranslator": "cliprt_data.translate",
    "LLMTranslator": "cliprt_data.translate",
    "LLMConfig": "cliprt_data.translate",
    "Translation": "cliprt_data.translate",
    "Translator": "cliprt_data.translate",
    "make_translator": "cliprt_data.translate",
    "TeleopSession": "cliprt_data.teleop",
    "ScriptedUser": "cliprt_data.teleop",
    "collect_demonstrations": "cliprt_data.teleop",
    "STAConfig": "cliprt_data.augment",
    "augment_dataset": "cliprt_data.augment",
    "ConversionConfig": "cliprt_data.convert",
    "convert_actions": "cliprt_data.convert",
    "convert_episodes": "cliprt_data.convert",
    "load_training_dataset": "cliprt_data.datasets",
    "LanguageMotionDataset": "cliprt_data.datasets",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
