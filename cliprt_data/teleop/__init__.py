"""Language-based teleoperation (the CLIP-RT paper, Sec. III-C and Appendix C) and scripted collection.

A :class:`TeleopSession` runs one episode at a time: the user gives the task
instruction, then at every step sees the camera image and types free
supervision ("move left a lot", "a bit lower", "close the gripper"); a
:class:`~cliprt_data.translate.Translator` maps it to a motion, which is
validated against the vocabulary before the env executes it, and the
:class:`~cliprt_data.recorder.DatasetRecorder` records the step.

The user is an object (:class:`TeleopUser`): :class:`ConsoleUser` is a
person at a terminal; :class:`ScriptedUser` speaks varied paraphrases of the
scripted expert's motions, so ``cliprt collect`` gathers demonstrations
through exactly the path a person uses (expert motion -> phrase -> translator
-> motion) and counts where the translator disagrees.

Modules: :mod:`~cliprt_data.teleop.users` (commands, the user protocol, the
console user), :mod:`~cliprt_data.teleop.scripted` (the scripted user),
:mod:`~cliprt_data.teleop.viewer` (the camera image),
:mod:`~cliprt_data.teleop.session` and :mod:`~cliprt_data.teleop.collect`.
"""

from __future__ import annotations

from cliprt_data.teleop.collect import CollectConfig, collect_demonstrations
from cliprt_data.teleop.scripted import ScriptedUser, ScriptedUserStats, natural_phrase
from cliprt_data.teleop.session import EpisodeOutcome, TeleopConfig, TeleopSession
from cliprt_data.teleop.users import COMMANDS, HELP, ConsoleUser, TeleopUser, parse_command
from cliprt_data.teleop.viewer import ImageViewer

__all__ = [
    "COMMANDS",
    "HELP",
    "CollectConfig",
    "ConsoleUser",
    "EpisodeOutcome",
    "ImageViewer",
    "ScriptedUser",
    "ScriptedUserStats",
    "TeleopConfig",
    "TeleopSession",
    "TeleopUser",
    "collect_demonstrations",
    "natural_phrase",
    "parse_command",
]
