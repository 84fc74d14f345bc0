"""The teleoperation session: instruction, then supervision -> translation -> validated motion -> step, with commands."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cliprt_data.recorder import DatasetRecorder
from cliprt_data.teleop.users import HELP, TeleopUser, parse_command
from cliprt_data.teleop.viewer import ImageViewer
from cliprt_data.translate import Translation, Translator, validated


@dataclass(frozen=True)
class TeleopConfig:
    """Options of a teleoperation session.

    ``view_path``: where the current camera image is saved as PNG (None: not
    saved). ``window``: also show it in a window where one can open.
    ``step_kind``: what recorded steps are called ("teleop" or "collect").
    """

    view_path: Path | None = None
    window: bool = False
    step_kind: str = "teleop"


@dataclass(frozen=True)
class EpisodeOutcome:
    """How one episode ended."""

    index: int | None  # dataset index when saved
    saved: bool
    success: bool
    steps: int
    quit: bool = False
    reason: str = ""


@dataclass
class EpisodeInProgress:
    """The episode a session is running: the last observation, the instruction, the steps taken."""

    obs: dict[str, Any]
    instruction: str
    steps: int = 0


class TeleopSession:
    """Runs episodes: instruction, then supervision -> translation -> validated motion -> step."""

    def __init__(
        self, recorder: DatasetRecorder, translator: Translator, user: TeleopUser, config: TeleopConfig = TeleopConfig()
    ) -> None:
        self.recorder = recorder
        self.translator = translator
        self.user = user
        self.config = config
        self.vocabulary = recorder.vocabulary
        self.viewer = (
            ImageViewer(config.view_path, window=config.window, say=user.tell) if config.view_path or config.window else None
        )

    def close(self) -> None:
        if self.viewer is not None:
            self.viewer.close()

    def run_episode(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> EpisodeOutcome:
        """One episode from reset to done/success/discard/quit, or the env's own end."""
        ep = self._start(seed, options)
        if isinstance(ep, EpisodeOutcome):
            return ep
        while True:
            text = self._ask(ep)
            command = parse_command(text)
            outcome = self._command(command, ep) if command is not None else self._act(text, ep)
            if outcome is not None:
                return outcome

    def _ask(self, ep: EpisodeInProgress) -> str:
        """Show the camera image and ask the user what to do at this step."""
        if self.viewer is not None:
            self.viewer.show(ep.obs["image"], f"{ep.instruction} (step {ep.steps})")
        return self.user.ask_supervision(ep.obs, ep.steps)

    def _start(self, seed: int | None, options: dict[str, Any] | None) -> EpisodeInProgress | EpisodeOutcome:
        """Reset and ask for the instruction; the outcome when the user quits or discards right away."""
        rec = self.recorder
        obs, _ = rec.reset(seed=seed, options=options)
        default = str(obs.get("instruction", ""))
        answer = self.user.ask_instruction(default).strip()
        command = parse_command(answer) if answer else None
        if command in ("quit", "discard"):
            rec.end_episode(discard=True)
            return EpisodeOutcome(None, False, False, 0, quit=command == "quit", reason=command)
        instruction = answer if answer and command is None else default
        if instruction != default:
            obs = self._set_instruction(instruction, seed, options)
        return EpisodeInProgress(obs, instruction)

    def _command(self, command: str, ep: EpisodeInProgress) -> EpisodeOutcome | None:
        """Carry out a typed command; the outcome when it ends the episode."""
        if command == "help":
            self.user.tell(HELP)
        elif command == "undo":
            self._undo(ep)
        elif command in ("discard", "quit"):
            self.recorder.end_episode(discard=True)
            self.user.tell("  episode discarded")
            return EpisodeOutcome(None, False, False, ep.steps, quit=command == "quit", reason=command)
        elif command in ("done", "success"):
            return self._save(command, ep.steps)
        return None

    def _undo(self, ep: EpisodeInProgress) -> None:
        try:
            ep.obs = self.recorder.undo()
            ep.steps -= 1
            self.user.tell(f"  undone; back at step {ep.steps}")
        except RuntimeError as exc:
            self.user.tell(f"  {exc}")

    def _save(self, command: str, steps: int) -> EpisodeOutcome:
        """``done`` / ``success``: save the episode (nothing to save without a step)."""
        rec = self.recorder
        if steps == 0:
            rec.end_episode(discard=True)
            self.user.tell("  no steps recorded; nothing saved")
            return EpisodeOutcome(None, False, False, 0, reason=command)
        success = True if command == "success" else None
        index = rec.end_episode(success=success)
        ok = index is not None and bool(rec.writer.episode_entry(index)["success"])
        self.user.tell(f"  saved episode {index} ({steps} steps, {'success' if ok else 'not successful'})")
        return EpisodeOutcome(index, index is not None, ok, steps, reason=command)

    def _act(self, text: str, ep: EpisodeInProgress) -> EpisodeOutcome | None:
        """Supervision -> validated translation -> reviewed -> one step; the outcome when the env ends the episode."""
        translation = self._reviewed(text, ep)
        if translation is None:
            return None
        assert translation.motion_id is not None  # validated + reviewed
        return self._execute(translation.motion_id, text, ep)

    def _reviewed(self, text: str, ep: EpisodeInProgress) -> Translation | None:
        """The validated translation of ``text`` once the user accepted it; None when unclear or refused."""
        translation = validated(self.translator.translate(text, instruction=ep.instruction), self.vocabulary)
        return translation if self.user.review(translation) else None

    def _execute(
        self,
        action: Any,
        supervision: str | None,
        ep: EpisodeInProgress,
        *,
        step_kind: str | None = None,
        labelled: bool | None = None,
    ) -> EpisodeOutcome | None:
        """Step the env through the recorder; the outcome when the env ends the episode."""
        rec = self.recorder
        before = rec.writer.total_episodes
        ep.obs, _, terminated, truncated, info = rec.step(
            action, supervision=supervision, step_kind=step_kind or self.config.step_kind, labelled=labelled
        )
        ep.steps += 1
        done = getattr(self.user, "step_done", None)  # users that list the episode's steps (the web app)
        if callable(done):
            done(ep.steps, str(info.get("motion_text", "")), supervision, step_kind or self.config.step_kind)
        self._warn(info)
        if not (terminated or truncated):
            return None
        saved = rec.writer.total_episodes > before
        index = rec.writer.total_episodes - 1 if saved else None
        success = bool(info.get("is_success", False))
        what = "task succeeded" if success else "time limit reached"
        self.user.tell(f"  {what}; {'saved as episode ' + str(index) if saved else 'episode not saved'} ({ep.steps} steps)")
        return EpisodeOutcome(index, saved, success, ep.steps, reason="success" if success else "time limit")

    def _set_instruction(self, instruction: str, seed: int | None, options: dict[str, Any] | None) -> dict[str, Any]:
        base = self.recorder.env.unwrapped
        if callable(getattr(base, "save_state", None)):
            state = dataclasses.replace(base.save_state(), instruction=instruction)
            obs, _ = self.recorder.reset(options={"state": state})
        else:
            obs, _ = self.recorder.reset(seed=seed, options={**(options or {}), "instruction": instruction})
        return obs

    def _warn(self, info: dict[str, Any]) -> None:
        problems = [
            text
            for key, text in (
                ("ik_failed", "the arm could not reach the whole motion (IK)"),
                ("workspace_clamped", "the motion was shortened at the safety box"),
                ("table_collision", "the gripper touched the table"),
            )
            if info.get(key)
        ]
        if problems:
            self.user.tell("  note: " + "; ".join(problems))
