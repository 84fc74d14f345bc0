"""People and language models in the benchmark loop: ``cliprt bench run --corrections K`` and ``--scorer vlm``.

``--corrections K``: a :class:`SimulatedPerson` watches every episode and, at
most K times per episode, when the policy's motion is not the task's scripted
expert's at that state, says the expert's motion in words (a random paraphrase,
reworded as :func:`cliprt_data.teleop.scripted.natural_phrase` does for ``cliprt
collect``). The words go through the offline translator, the same path a person's
correction takes; like a person watching the translation, it rephrases when the
translator gets it wrong (up to ``max_rephrasings`` times, then the motion's own
text). The understood motion overrides that step only. Each episode's record
gets ``corrections`` (how many) and ``correction_log`` (step, words, motion, what
the policy wanted).

The expert is asked in the env workers through :class:`ExpertProbe`, which
answers -1 instead of raising where the expert cannot answer (a state a policy led
it to), so a diagnostic never ends a benchmark.

``--scorer vlm``: a :class:`~cliprt_agents.vlm_scorer.VLMScorer` (settings
``CLIPRT_LLM_*``) re-weights the policy's top motions at every step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from cliprt.evaluation.trace import expert_motion
from cliprt_envs.motions import Vocabulary

#: The method the runner calls in each worker for the expert's motion (see :class:`ExpertProbe`).
PROBE_METHOD = "expert_motion_or_none"


class ExpertProbe(gym.Wrapper):
    """The outermost wrapper of a benchmark env when people correct: the expert's motion, -1 where it has none."""

    def expert_motion_or_none(self) -> int:
        return expert_motion(self.env)


def probed_env(make: Callable[[], gym.Env]) -> gym.Env:
    """``make()`` wrapped in :class:`ExpertProbe` (a picklable factory for worker processes)."""
    return ExpertProbe(make())


@dataclass(frozen=True)
class SpokenCorrection:
    """One correction the simulated person made."""

    step: int
    said: str
    motion: int
    wanted: int
    attempts: int  # phrases spoken until the translator understood (1 = the first)


class SimulatedPerson:
    """Corrects at most ``budget`` steps per episode, in words, where the policy leaves the expert's motion."""

    def __init__(self, vocabulary: Vocabulary, budget: int, seed: int = 0, *, max_rephrasings: int = 3) -> None:
        from cliprt_data.translate import RuleTranslator

        self.vocabulary = vocabulary
        self.budget = int(budget)
        self.translator = RuleTranslator(vocabulary)
        self.rng = np.random.default_rng(seed)
        self.max_rephrasings = max_rephrasings
        self.misunderstood = 0  # phrases the translator got wrong (the person rephrased)
        self._log: dict[int, list[SpokenCorrection]] = {}

    def reset(self, slot: int) -> None:
        self._log[slot] = []

    def has_budget(self, slot: int) -> bool:
        return len(self._log.setdefault(slot, [])) < self.budget

    def watch(self, slot: int, step: int, instruction: str, wanted: int, expert: int) -> int:
        """The motion to execute at this step: the policy's, or the person's correction."""
        if expert < 0 or wanted == expert or not self.has_budget(slot):
            return wanted
        said, attempts = self._say(expert, instruction)
        self._log[slot].append(SpokenCorrection(step, said, expert, int(wanted), attempts))
        return expert

    def _say(self, motion: int, instruction: str) -> tuple[str, int]:
        """Speak ``motion`` until the translator understands it; (the words it understood, phrases spoken)."""
        from cliprt_data.teleop.scripted import natural_phrase
        from cliprt_data.translate import validated

        for attempt in range(1, self.max_rephrasings + 2):
            last = attempt > self.max_rephrasings
            said = self.vocabulary.text(motion) if last else natural_phrase(self.vocabulary, motion, self.rng)
            translation = validated(self.translator.translate(said, instruction=instruction), self.vocabulary)
            if translation.motion_id == motion:
                return said, attempt
            self.misunderstood += 1
        raise RuntimeError(f"the translator does not understand the motion's own text {self.vocabulary.text(motion)!r}")

    def episode(self, slot: int) -> dict[str, Any]:
        """What goes into the episode's record: how many corrections, and each one."""
        log = self._log.get(slot, [])
        return {"corrections": len(log), "correction_log": [asdict(c) for c in log]}


class CorrectedAgent:
    """An agent whose steps a :class:`SimulatedPerson` may correct (the runner's vector env answers the expert)."""

    continuous = False
    needs_env = False

    def __init__(self, agent: Any, person: SimulatedPerson, envs: Any) -> None:
        self.agent = agent
        self.person = person
        self.envs = envs
        self._steps: dict[int, int] = {}

    def reset(self, instruction: Any = None, env_index: int | None = None) -> None:
        self.agent.reset(instruction, env_index=env_index)
        for slot in range(self.envs.num_envs) if env_index is None else [env_index]:
            self.person.reset(slot)
            self._steps[slot] = 0

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        n = self.envs.num_envs
        wanted = np.asarray(self.agent.act(observation), dtype=np.int64).reshape(n)
        instructions = observation["instruction"]
        actions = wanted.copy()
        if any(self.person.has_budget(i) for i in range(n)):
            experts = np.asarray(self.envs.call(PROBE_METHOD), dtype=np.int64).reshape(n)
            for i in range(n):
                instruction = instructions if isinstance(instructions, str) else str(instructions[i])
                actions[i] = self.person.watch(i, self._steps.get(i, 0), instruction, int(wanted[i]), int(experts[i]))
        for i in range(n):
            self._steps[i] = self._steps.get(i, 0) + 1
        return actions

    def episode_extra(self, slot: int) -> dict[str, Any]:
        return self.person.episode(slot)


class CorrectedScoringAgent(CorrectedAgent):
    """A :class:`CorrectedAgent` over an agent that scores motions (its scores still reach ``--trace``)."""

    def scores(self, observation: dict[str, Any]) -> np.ndarray:
        return self.agent.scores(observation)

    @property
    def last_scores(self) -> np.ndarray | None:
        """The wrapped agent's scores behind its last act, where it keeps them."""
        return getattr(self.agent, "last_scores", None)


def people_in_the_loop(config: Any, agent: Any, envs: Any, vocabulary: Vocabulary) -> Any:
    """The agent the runner drives: with the configured scorer attached and, with corrections, a simulated person."""
    if getattr(config, "scorer", "none") == "vlm" and not agent.needs_env:
        if not hasattr(agent, "scorer"):
            raise ValueError(f"--scorer vlm needs an agent that scores motions (clip-rt), not {type(agent).__name__}")
        from cliprt_agents.vlm_scorer import VLMScorer

        agent.scorer = VLMScorer.from_env()
    budget = int(getattr(config, "corrections", 0))
    if budget <= 0 or agent.needs_env:  # the scripted expert needs no correcting
        return agent
    if getattr(agent, "continuous", False):
        raise ValueError("--corrections needs an agent that picks motions; CLIP-RT+ (continuous deltas) is not supported")
    person = SimulatedPerson(vocabulary, budget, seed=int(config.seeds[0]))
    cls = CorrectedScoringAgent if callable(getattr(agent, "scores", None)) else CorrectedAgent
    return cls(agent, person, envs)


def episode_extra(agent: Any, slot: int) -> dict[str, Any]:
    """Extra fields of an episode's record from the agent in the loop (``{}`` for a plain agent)."""
    extra = getattr(agent, "episode_extra", None)
    return extra(slot) if callable(extra) else {}
