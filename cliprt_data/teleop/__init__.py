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
:mod:`~cliprt_data.teleop.session` and :mod:`~cliprt_data.teleop.collect`;
:mod:`~cliprt_data.teleop.corrections` (a person corrects a running policy in words),
:mod:`~cliprt_data.teleop.web` (the browser app) and
:mod:`~cliprt_data.teleop.run_command` (``cliprt run``, ``--web``).
"""

from __future__ import annotations

from cliprt_data._util import lazy_exports

#: name -> the module that defines it; loaded on first use, so ``cliprt --help`` never pays for gymnasium.
_EXPORTS = {
    "CollectConfig": "cliprt_data.teleop.collect",
    "collect_demonstrations": "cliprt_data.teleop.collect",
    "ScriptedUser": "cliprt_data.teleop.scripted",
    "ScriptedUserStats": "cliprt_data.teleop.scripted",
    "natural_phrase": "cliprt_data.teleop.scripted",
    "EpisodeOutcome": "cliprt_data.teleop.session",
    "TeleopConfig": "cliprt_data.teleop.session",
    "TeleopSession": "cliprt_data.teleop.session",
    "COMMANDS": "cliprt_data.teleop.users",
    "HELP": "cliprt_data.teleop.users",
    "ConsoleUser": "cliprt_data.teleop.users",
    "TeleopUser": "cliprt_data.teleop.users",
    "parse_command": "cliprt_data.teleop.users",
    "ImageViewer": "cliprt_data.teleop.viewer",
    "CorrectionSession": "cliprt_data.teleop.corrections",
    "ConsoleCorrectionUser": "cliprt_data.teleop.corrections",
    "CorrectionRecord": "cliprt_data.teleop.corrections",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
