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
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cliprt_data.recorder import DatasetRecorder
from cliprt_data.translate import Translation, Translator, validated
from cliprt_envs.motions import (
    AMOUNT_WORDS,
    Vocabulary,
    amount_rank,
    default_vocabulary,
    normalize_text,
    random_paraphrase,
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


# -- viewing the camera ---------------------------------------------------------


class ImageViewer:
    """Shows the current camera image: a PNG that is rewritten every step, and a window where possible.

    The PNG is replaced atomically, so an image viewer that reloads it never
    sees half a file. A Tk window opens only with ``window=True``, a display
    and tkinter; otherwise the path is printed once.
    """

    def __init__(
        self, path: Path | None, *, window: bool = False, min_size: int = 256, say: Callable[[str], None] = print
    ) -> None:
        self.path = None if path is None else Path(path)
        self.min_size = min_size
        self._say = say
        self._window: Any = None
        self._told = False
        if window:
            self._window = _TkWindow.try_open(say)

    def show(self, image: np.ndarray, caption: str = "") -> None:
        from PIL import Image

        img = Image.fromarray(np.asarray(image, dtype=np.uint8))
        if min(img.size) < self.min_size:
            scale = int(np.ceil(self.min_size / min(img.size)))
            img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp.png")
            img.save(tmp)
            os.replace(tmp, self.path)
            if not self._told and self._window is None:
                self._say(f"camera image: {self.path} (refreshed every step)")
                self._told = True
        if self._window is not None:
            self._window.show(img, caption)

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None


class _TkWindow:
    def __init__(self, tk: Any) -> None:
        self._tk = tk
        self._root = tk.Tk()
        self._root.title("cliprt teleop")
        self._label = tk.Label(self._root)
        self._label.pack()
        self._photo: Any = None

    @classmethod
    def try_open(cls, say: Callable[[str], None]) -> _TkWindow | None:
        if not os.environ.get("DISPLAY") and os.name != "nt":
            say("no display: the camera image is only saved as a PNG")
            return None
        try:
            import tkinter

            return cls(tkinter)
        except Exception as exc:  # tkinter missing or the display refuses
            say(f"cannot open a window ({exc}); the camera image is only saved as a PNG")
            return None

    def show(self, img: Any, caption: str) -> None:
        from PIL import ImageTk

        self._photo = ImageTk.PhotoImage(img)
        self._label.configure(image=self._photo)
        self._root.title(f"cliprt teleop: {caption}" if caption else "cliprt teleop")
        self._root.update()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._root.destroy()


# -- users --------------------------------------------------------------------------


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


_POLITE = ("{}", "{}", "please {}", "{} please", "now {}", "could you {}", "ok, {}", "{} now")
_NUMBER_WORDS = {"1": "one", "5": "five", "10": "ten", "15": "fifteen", "20": "twenty", "45": "forty five", "90": "ninety"}
_COMPARATIVES = {
    ("z", 1): "higher",
    ("z", -1): "lower",
    ("y", 1): "more to the left",
    ("y", -1): "more to the right",
    ("x", 1): "further forward",
    ("x", -1): "further back",
}


def natural_phrase(vocabulary: Vocabulary, motion_id: int, rng: np.random.Generator) -> str:
    """How a person might say motion ``motion_id``: a paraphrase, sometimes reworded.

    Starts from :func:`cliprt_envs.motions.random_paraphrase` (the project's
    paraphrase list) and, at random, spells numbers as words ("five
    centimeters"), turns it into a comparative ("a bit lower") or adds a
    polite frame ("could you ..."), so the translator sees more than the list.
    """
    import re

    motion = vocabulary[motion_id]
    text = random_paraphrase(vocabulary, motion_id, rng)
    key = (motion.axis, motion.sign)
    if not motion.is_gripper and key in _COMPARATIVES and rng.random() < 0.25:
        words = AMOUNT_WORDS[amount_rank(motion.level, len(vocabulary.axis_levels(motion.axis)))]
        text = f"{words[int(rng.integers(len(words)))]} {_COMPARATIVES[key]}"
    elif rng.random() < 0.3:
        text = re.sub(r"\b(\d+)\b", lambda m: _NUMBER_WORDS.get(m.group(1), m.group(1)), text)
    return _POLITE[int(rng.integers(len(_POLITE)))].format(text)


@dataclass
class ScriptedUserStats:
    """How the translator fared on the scripted user's phrases."""

    phrases: int = 0
    matched: int = 0
    mismatched: int = 0
    unclear: int = 0
    fallbacks: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def match_rate(self) -> float:
        return self.matched / self.phrases if self.phrases else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "match_rate": self.match_rate}


class ScriptedUser:
    """Speaks the scripted expert's next motion as a random paraphrase.

    When the translation is unclear or is not the expert's motion (counted),
    it rephrases; after ``max_rephrasings`` it says the motion's own text,
    which every translator must understand, so demonstrations stay expert
    demonstrations while the statistics measure the translator.
    """

    def __init__(
        self, env: Any, vocabulary: Vocabulary, rng: np.random.Generator, *, max_rephrasings: int = 3, keep_examples: int = 50
    ) -> None:
        self.env = env
        self.vocabulary = vocabulary
        self.rng = rng
        self.max_rephrasings = max_rephrasings
        self.keep_examples = keep_examples
        self.stats = ScriptedUserStats()
        self._expected: int | None = None
        self._attempts = 0
        self._last = ""

    def ask_instruction(self, default: str) -> str:
        return default

    def ask_supervision(self, observation: dict[str, Any], step: int) -> str:
        from cliprt_envs.language_env import expert_action

        if self._expected is None:
            self._expected = int(expert_action(self.env))
            self._attempts = 0
        self._attempts += 1
        if self._attempts > self.max_rephrasings + 1:
            raise RuntimeError(
                f"the translator did not understand the motion's own text {self.vocabulary.text(self._expected)!r}; "
                "check the translator (for --translator llm: the endpoint and model)"
            )
        if self._attempts > self.max_rephrasings:
            self.stats.fallbacks += 1
            self._last = self.vocabulary.text(self._expected)
        else:
            self._last = natural_phrase(self.vocabulary, self._expected, self.rng)
        self.stats.phrases += 1
        return self._last

    def review(self, translation: Translation) -> bool:
        expected = self._expected
        if not translation.ok:
            self.stats.unclear += 1
            self._note(translation, "unclear")
            return False
        if translation.motion_id != expected:
            self.stats.mismatched += 1
            self._note(translation, "mismatch")
            return False
        self.stats.matched += 1
        self._expected = None
        return True

    def tell(self, message: str) -> None:
        """A script does not read messages."""

    def _note(self, translation: Translation, kind: str) -> None:
        if len(self.stats.examples) < self.keep_examples and self._expected is not None:
            self.stats.examples.append(
                {
                    "kind": kind,
                    "phrase": translation.text,
                    "expected": self.vocabulary.text(self._expected),
                    "got": translation.motion_text,
                    "message": translation.message,
                }
            )


# -- the session ------------------------------------------------------------------


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
        steps = 0
        while True:
            if self.viewer is not None:
                self.viewer.show(obs["image"], f"{instruction} (step {steps})")
            text = self.user.ask_supervision(obs, steps)
            command = parse_command(text)
            if command == "help":
                self.user.tell(HELP)
                continue
            if command == "undo":
                try:
                    obs = rec.undo()
                    steps -= 1
                    self.user.tell(f"  undone; back at step {steps}")
                except RuntimeError as exc:
                    self.user.tell(f"  {exc}")
                continue
            if command in ("discard", "quit"):
                rec.end_episode(discard=True)
                self.user.tell("  episode discarded")
                return EpisodeOutcome(None, False, False, steps, quit=command == "quit", reason=command)
            if command in ("done", "success"):
                if steps == 0:
                    rec.end_episode(discard=True)
                    self.user.tell("  no steps recorded; nothing saved")
                    return EpisodeOutcome(None, False, False, 0, reason=command)
                success = True if command == "success" else None
                index = rec.end_episode(success=success)
                ok = index is not None and bool(rec.writer.episode_entry(index)["success"])
                self.user.tell(f"  saved episode {index} ({steps} steps, {'success' if ok else 'not successful'})")
                return EpisodeOutcome(index, index is not None, ok, steps, reason=command)
            translation = validated(self.translator.translate(text, instruction=instruction), self.vocabulary)
            if not self.user.review(translation):
                continue
            assert translation.motion_id is not None  # validated + reviewed
            before = rec.writer.total_episodes
            obs, _, terminated, truncated, info = rec.step(
                translation.motion_id, supervision=text, step_kind=self.config.step_kind
            )
            steps += 1
            self._warn(info)
            if terminated or truncated:
                saved = rec.writer.total_episodes > before
                index = rec.writer.total_episodes - 1 if saved else None
                success = bool(info.get("is_success", False))
                what = "task succeeded" if success else "time limit reached"
                self.user.tell(f"  {what}; {'saved as episode ' + str(index) if saved else 'episode not saved'} ({steps} steps)")
                return EpisodeOutcome(index, saved, success, steps, reason="success" if success else "time limit")

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


# -- scripted collection -----------------------------------------------------------


@dataclass(frozen=True)
class CollectConfig:
    """``cliprt collect``: how many demonstrations and how.

    ``episodes`` counts saved demonstrations; failed expert episodes are
    dropped unless ``keep_failures``; at most ``max_attempts`` episodes are
    tried (default 3 x episodes).
    """

    env_id: str
    episodes: int
    seed: int = 0
    image_size: int = 224
    camera: str | None = None  # the sim view to record (default: the env's, "front")
    translator: str = "offline"
    keep_failures: bool = False
    max_attempts: int | None = None
    max_rephrasings: int = 3
    append: bool = False
    jpeg: bool | None = None  # None: raw up to 128 px, JPEG above (see StorageConfig)
    default_amount: int | None = None


def collect_demonstrations(
    config: CollectConfig, out: str | Path, *, progress: bool = True, translator: Translator | None = None
) -> dict[str, Any]:
    """Gather demonstrations with the scripted user; returns a report (also written to ``out``)."""
    import gymnasium as gym

    import cliprt_envs  # noqa: F401  (registers the ids)
    from cliprt_data._util import atomic_write_json
    from cliprt_data.recorder import RecorderConfig
    from cliprt_data.storage import StorageConfig
    from cliprt_data.translate import make_translator

    if config.episodes < 1:
        raise ValueError("--episodes must be >= 1")
    if config.env_id not in gym.registry:
        raise ValueError(f"unknown env {config.env_id!r}; see `cliprt envs`")
    env = gym.make(config.env_id, image_size=config.image_size, **({"camera": config.camera} if config.camera else {}))
    try:
        # The translator first: a bad --translator setting fails before anything is written.
        vocab = getattr(env.unwrapped, "vocabulary", None) or default_vocabulary()
        if translator is not None:
            tr = translator
        elif config.translator == "offline":
            tr = make_translator("offline", vocab, default_amount=config.default_amount)
        else:
            tr = make_translator(config.translator, vocab)
        rec_config = RecorderConfig(
            storage=StorageConfig(jpeg=config.jpeg),
            source="collect",
            step_kind="collect",
            save_on_reset=False,
            save_failures=config.keep_failures,
        )
        recorder = DatasetRecorder(env, out, append=config.append, config=rec_config)
    except BaseException:
        env.close()
        raise
    vocab = recorder.vocabulary
    rng = np.random.default_rng(config.seed)
    user = ScriptedUser(env, vocab, rng, max_rephrasings=config.max_rephrasings)
    session = TeleopSession(recorder, tr, user, TeleopConfig(step_kind="collect"))
    max_attempts = config.max_attempts or 3 * config.episodes
    saved = failed = attempts = steps = 0
    start = time.perf_counter()
    bar = _progress(config.episodes, f"collect {config.env_id}", progress)
    try:
        while saved < config.episodes and attempts < max_attempts:
            outcome = session.run_episode(seed=config.seed + attempts)
            attempts += 1
            steps += outcome.steps
            if outcome.saved:
                saved += 1
                bar.update(1)
            if not outcome.success:
                failed += 1
            bar.set_postfix(failed=failed, mismatch=user.stats.mismatched)
    finally:
        bar.close()
        recorder.close()
    seconds = time.perf_counter() - start
    report = {
        "env_id": config.env_id,
        "dataset": str(recorder.path),
        "episodes_saved": saved,
        "episodes_failed": failed,
        "attempts": attempts,
        "steps": steps,
        "seconds": seconds,
        "steps_per_second": steps / seconds if seconds > 0 else 0.0,
        # the name the user chose (--translator offline / llm), or what a given translator calls itself
        "translator": config.translator if translator is None else getattr(tr, "source", type(tr).__name__),
        "translation": user.stats.as_dict(),
    }
    if not recorder.writer.discarded:  # nothing saved into a new folder: the folder is gone
        atomic_write_json(Path(recorder.path) / "collect_report.json", report)
    return report


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="ep", disable=not enabled, dynamic_ncols=True)
