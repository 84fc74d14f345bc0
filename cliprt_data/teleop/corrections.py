"""Language corrections of a running policy (the CLIP-RT paper, Fig. 7), at a terminal or in the browser.

A :class:`CorrectionSession` is a :class:`~cliprt_data.teleop.session.TeleopSession`
whose steps a policy proposes: at every step the person sees the policy's top
motions and either lets it act (an empty answer), types a command (undo,
success, done, discard, quit), or types a correction in their own words. The
correction goes through the same translator and review as teleoperation and
overrides that step only: through ``policy.correct()`` where the agent has it
(CLIP-RT logs it in ``policy.corrections``), otherwise by executing the
corrected motion instead of the agent's. Every correction is kept as a
:class:`CorrectionRecord` with what the policy wanted, logged, and written with
its episode (``corrections`` in the dataset's manifest entry).

Steps are recorded through the same recorder: the policy's own steps with
``step_kind="policy"`` and no training label, corrections as the person's own
supervision (``step_kind="teleop"``: their words, the corrected motion as the
label), with the episode's ``corrections`` saying which steps they were.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cliprt_data.recorder import DatasetRecorder
from cliprt_data.teleop.session import EpisodeInProgress, EpisodeOutcome, TeleopConfig, TeleopSession
from cliprt_data.teleop.users import ConsoleUser, TeleopUser
from cliprt_data.translate import Translation, Translator

log = logging.getLogger(__name__)

#: A correction session's default options: steps the policy takes are recorded as "policy" steps.
POLICY_CONFIG = TeleopConfig(step_kind="policy")
#: How many of the policy's best motions a person is shown at each step.
TOP_K = 3


@dataclass(frozen=True)
class CorrectionRecord:
    """One correction as executed: what was said, what it meant, and what the policy wanted at that step."""

    step: int
    instruction: str
    utterance: str
    motion_id: int
    motion_text: str
    wanted_id: int  # the policy's own motion at this state (-1: unknown)
    wanted_text: str | None
    source: str  # the translator that understood it

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def top_motions(agent: Any, observation: dict[str, Any], vocabulary: Any, k: int = TOP_K) -> list[dict[str, Any]]:
    """The agent's ``k`` best motions with scores (``[]`` for agents that do not score motions)."""
    if not callable(getattr(agent, "scores", None)) or getattr(agent, "needs_env", False):
        return []
    scores = np.asarray(agent.scores(observation), dtype=np.float64).reshape(-1)
    best = np.argsort(-scores, kind="stable")[:k]
    return [{"id": int(i), "text": vocabulary.text(int(i)), "score": round(float(scores[i]), 4)} for i in best]


class CorrectionSession(TeleopSession):
    """Episodes a policy drives while a person watches and corrects any step in language."""

    def __init__(
        self,
        recorder: DatasetRecorder,
        translator: Translator,
        user: TeleopUser,
        agent: Any,
        config: TeleopConfig = POLICY_CONFIG,
        *,
        top_k: int = TOP_K,
    ) -> None:
        if getattr(agent, "continuous", False):
            raise ValueError("corrections need an agent that picks motions; CLIP-RT+ (continuous deltas) is not supported")
        super().__init__(recorder, translator, user, config)
        self.agent = agent
        self.top_k = top_k
        self.corrections: list[CorrectionRecord] = []
        self._episode_corrections: list[CorrectionRecord] = []

    def _start(self, seed: int | None, options: dict[str, Any] | None) -> EpisodeInProgress | EpisodeOutcome:
        ep = super()._start(seed, options)
        if isinstance(ep, EpisodeInProgress):
            self.agent.reset(ep.instruction)
            self._episode_corrections = []
        return ep

    def _ask(self, ep: EpisodeInProgress) -> str:
        show = getattr(self.user, "show_proposal", None)
        if callable(show):
            show(top_motions(self.agent, ep.obs, self.vocabulary, self.top_k))
        return super()._ask(ep)

    def _undo(self, ep: EpisodeInProgress) -> None:
        before = ep.steps
        super()._undo(ep)
        if ep.steps < before:  # the undone step's correction, if any, is gone with it
            self._episode_corrections = [c for c in self._episode_corrections if c.step < ep.steps]
            self.recorder.annotate_episode(corrections=[c.as_dict() for c in self._episode_corrections])

    def _policy_action(self, ep: EpisodeInProgress) -> int:
        if getattr(self.agent, "needs_env", False):  # a scripted expert reads the simulator
            return int(self.recorder.env.unwrapped.expert_action())
        return int(self.agent.act(ep.obs))

    def _act(self, text: str, ep: EpisodeInProgress) -> EpisodeOutcome | None:
        """An empty answer lets the policy act; anything else is a correction through the translator."""
        if not text.strip():
            action = self._policy_action(ep)
            self._tell_verdict()
            return self._execute(action, None, ep, step_kind="policy", labelled=False)
        translation = self._reviewed(text, ep)
        if translation is None:
            return None
        record = self._corrected(translation, ep)
        return self._execute(record.motion_id, text, ep, step_kind="teleop", labelled=True)

    def _tell_verdict(self) -> None:
        """Where a scorer (a vision-language model) re-weighted the policy's motions at this step, say how."""
        step = getattr(self.agent, "last_step", None)
        factors = None if step is None or getattr(self.agent, "scorer", None) is None else step.factors
        if factors is None:
            return
        row = np.asarray(factors, dtype=np.float64).reshape(-1, len(self.vocabulary))[0]
        up = [self.vocabulary.text(int(i)) for i in np.flatnonzero(row > 1)]
        down = [self.vocabulary.text(int(i)) for i in np.flatnonzero(row < 1)]
        if up or down:
            self.user.tell(f"  scorer: up {', '.join(up) or '-'}; down {', '.join(down) or '-'}")

    def _corrected(self, translation: Translation, ep: EpisodeInProgress) -> CorrectionRecord:
        """Apply a reviewed correction to the policy's step; the record of it (also logged and annotated)."""
        assert translation.motion_id is not None and translation.motion_text is not None
        correct: Callable[..., int] | None = getattr(self.agent, "correct", None)
        if callable(correct) and not getattr(self.agent, "needs_env", False):
            correct(translation.motion_text)  # the policy's own correction path (logged in policy.corrections)
            executed = int(self.agent.act(ep.obs))
            history = getattr(self.agent, "corrections", None)
            wanted = int(history[-1].predicted_id) if history else -1
            if executed != translation.motion_id:
                raise RuntimeError(f"the policy executed motion {executed}, not the correction {translation.motion_id}")
        else:
            wanted = self._policy_action(ep)
        record = CorrectionRecord(
            step=ep.steps,
            instruction=ep.instruction,
            utterance=translation.text,
            motion_id=int(translation.motion_id),
            motion_text=translation.motion_text,
            wanted_id=wanted,
            wanted_text=self.vocabulary.text(wanted) if wanted >= 0 else None,
            source=translation.source,
        )
        self.corrections.append(record)
        self._episode_corrections.append(record)
        self.recorder.annotate_episode(corrections=[c.as_dict() for c in self._episode_corrections])
        log.info(
            "correction at step %d: %r -> %r (policy wanted %r)",
            record.step,
            record.utterance,
            record.motion_text,
            record.wanted_text,
        )
        self.user.tell(f"  correction: {record.motion_text} (the policy wanted: {record.wanted_text})")
        return record


class ConsoleCorrectionUser(ConsoleUser):
    """A person at a terminal watching a policy: Enter lets it act, words correct it, commands as in teleop."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._proposal: list[dict[str, Any]] = []

    def show_proposal(self, proposal: list[dict[str, Any]]) -> None:
        self._proposal = list(proposal)
        if proposal:
            self._print("  policy: " + " | ".join(f"{p['text']} ({p['score']:.2f})" for p in proposal))

    def ask_supervision(self, observation: dict[str, Any], step: int) -> str:
        return self._ask(f"step {step} [Enter: let the policy act, or type a correction] > ")
