"""Who speaks to the robot (:class:`TeleopUser`), the commands they can type, and :class:`ConsoleUser`, a person at a terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from cliprt_data.translate import Translation
from cliprt_envs.motions import (
    normalize_text,
)

#: What a user can type instead of supervision (all case-insensitive).
COMMANDS: dict[str, str] = {
    **{w: "undo" for w in ("undo", ":undo", "/undo")},
    **{w: "done" for w in ("done", ":done", "/done", "finish", "finished", "end episode")},
    **{w: "success" for w in ("success", ":success", "/success", "mark success", "succeeded")},
    **{w: "discard" for w in ("discard", ":discard", "/discard", "abort")},
    **{w: "quit" for w in ("quit", ":quit", "/quit", "exit", ":exit", "/exit")},
    **{w: "help" for w in ("help", ":help", "/help", "?")},
}

HELP = """Type what the arm should do, one motion at a time, e.g.
  move left a lot | a bit lower | raise the arm 5 cm | rotate the gripper 15 degrees clockwise | close the gripper
Commands:
  undo     take back the last step (the scene returns to where it was)
  success  mark the episode successful and save it
  done     save the episode (success as the task reports it)
  discard  drop this episode and start the next
  quit     drop this episode and stop
  help     this text"""


def parse_command(text: str) -> str | None:
    """The command named by ``text``, or None when it is supervision."""
    return COMMANDS.get(normalize_text(text))


class TeleopUser(Protocol):
    """Who speaks to the robot: a person at a terminal, or a script."""

    def ask_instruction(self, default: str) -> str: ...

    def ask_supervision(self, observation: dict[str, Any], step: int) -> str: ...

    def review(self, translation: Translation) -> bool:
        """See a translation; return True to execute it (never called to execute unclear ones)."""
        ...

    def tell(self, message: str) -> None: ...


class ConsoleUser:
    """A person at a terminal. ``confirm=True`` asks before every motion (advisable on a real robot)."""

    def __init__(
        self,
        *,
        confirm: bool = False,
        input_fn: Callable[[str], str] = input,
        print_fn: Callable[[str], None] = print,
    ) -> None:
        self.confirm = confirm
        self._input = input_fn
        self._print = print_fn

    def _ask(self, prompt: str) -> str:
        try:
            return self._input(prompt)
        except EOFError:
            return "quit"

    def ask_instruction(self, default: str) -> str:
        return self._ask(f"task instruction [{default}]: ").strip()

    def ask_supervision(self, observation: dict[str, Any], step: int) -> str:
        return self._ask(f"step {step} > ")

    def review(self, translation: Translation) -> bool:
        if not translation.ok:
            self._print(f"  ? {translation.message}")
            return False
        note = f"  ({translation.message})" if translation.message else ""
        self._print(f"  -> {translation.motion_text}{note}")
        if not self.confirm:
            return True
        answer = self._ask("  execute? [Y/n] ").strip().lower()
        return answer in ("", "y", "yes")

    def tell(self, message: str) -> None:
        self._print(message)
