"""The robot-agnostic task: what to do, how to start, when it is done, how an expert does it.

A task never talks to a simulator or a driver itself: it reads what its backend
reports (poses, contacts, object positions) and, to start an episode, asks the
backend to set up a scene. So the same base serves the MuJoCo twin
(:class:`cliprt_envs.sim.tasks.base.SimTask`), a real UR5 and LIBERO. This
module imports only numpy and the motion vocabulary, never MuJoCo.

A task supplies a few named hooks (ManiSkill/Metaworld style):

- ``name``, ``max_steps``, ``summary``: stated once, on the class; the registry
  reads them from there to build the Gymnasium id and its step limit.
- ``templates``: instruction templates, filled in with the fields that
  :meth:`Task.sample_initial_state` returns.
- :meth:`Task.sample_initial_state`: the initial-state sampler.
- :meth:`Task.success` and :meth:`Task.reward`: computed from what the backend reports.
- :meth:`Task.expert_action` (optional): a scripted expert that answers with a
  motion id of the vocabulary, from the current state alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

import numpy as np

from cliprt_envs.motions import Vocabulary

#: The backend type a task reads (the sim twin, a real robot, LIBERO).
BackendT = TypeVar("BackendT")


class NoExpertError(TypeError):
    """The task has no scripted expert."""


#: Which instruction phrasings a task speaks.
PHRASINGS = ("train", "held_out")


class Task(ABC, Generic[BackendT]):
    """Base of every task; subclasses fill in the hooks.

    Task variables (which object is the target, a goal point, ``aux_size``
    task-specific numbers) live in ``target``, ``goal`` and ``aux`` so that
    :meth:`save_state` / :meth:`restore_state` can restart an episode exactly.
    """

    #: Used in the Gymnasium id (e.g. ``CLIPRT-UR5Sim-<name>-v0``) and in ``info["task"]``.
    name: ClassVar[str] = ""
    #: The episode's step limit (the registered ``max_episode_steps``).
    max_steps: ClassVar[int] = 60
    #: One line for ``cliprt envs``.
    summary: ClassVar[str] = ""
    #: Instruction templates; ``{target}`` (and task-specific fields) are filled in.
    templates: ClassVar[tuple[str, ...]] = ()
    #: Phrasings kept out of every dataset, to measure how a policy does on words it never saw
    #: (``gym.make(..., phrasings="held_out")``).
    heldout_templates: ClassVar[tuple[str, ...]] = ()
    #: Length of ``self.aux``: task variables saved after the target and goal.
    aux_size: ClassVar[int] = 0

    def __init__(self) -> None:
        self.target = 0
        self.goal = np.zeros(3)
        self.aux = np.zeros(self.aux_size)
        self.phrasings = "train"  # or "held_out": instructions from heldout_templates

    # -- hooks ----------------------------------------------------------------
    @abstractmethod
    def sample_initial_state(self, backend: BackendT, rng: np.random.Generator) -> dict[str, str]:
        """Put the backend in a new initial state, choose the task variables; return the template fields."""

    @abstractmethod
    def success(self, backend: BackendT) -> bool: ...

    def reward(self, backend: BackendT) -> float:
        """Dense shaping reward in [0, 1], 1 exactly on success; by default the sparse one."""
        return 1.0 if self.success(backend) else 0.0

    def expert_action(self, backend: BackendT, vocabulary: Vocabulary) -> int:
        """The scripted expert's next motion id, from the current state alone (see :attr:`has_expert`)."""
        raise NoExpertError(f"{type(self).__name__} has no scripted expert")

    # -- shared machinery ----------------------------------------------------
    @property
    def has_expert(self) -> bool:
        return type(self).expert_action is not Task.expert_action

    def instruction_templates(self) -> tuple[str, ...]:
        """The phrasings :meth:`reset` draws from (``phrasings``: the training ones or the held-out ones)."""
        return self.heldout_templates if self.phrasings == "held_out" else self.templates

    def use_phrasings(self, phrasings: str) -> None:
        """``"train"`` (the default) or ``"held_out"`` (only for tasks that declare held-out phrasings)."""
        if phrasings not in PHRASINGS:
            raise ValueError(f"phrasings must be one of {PHRASINGS}; got {phrasings!r}")
        if phrasings == "held_out" and not self.heldout_templates:
            raise ValueError(f"{self.name or type(self).__name__} has no held-out phrasings")
        self.phrasings = phrasings

    def reset(self, backend: BackendT, rng: np.random.Generator) -> str:
        """Start a new episode; return its instruction."""
        fields = self.sample_initial_state(backend, rng)
        templates = self.instruction_templates()
        template = templates[int(rng.integers(len(templates)))]
        return template.format(**fields)

    def save_state(self) -> np.ndarray:
        """``[target, goal x, goal y, goal z, aux...]``."""
        return np.concatenate([[float(self.target)], self.goal, self.aux]).astype(np.float64)

    def restore_state(self, state: np.ndarray) -> None:
        state = np.asarray(state, dtype=np.float64)
        size = 4 + self.aux_size
        if state.shape != (size,):
            raise ValueError(f"{self.name} task state has {size} numbers, got shape {state.shape}")
        self.target = int(state[0])
        self.goal = state[1:4].copy()
        self.aux = state[4:].copy()
