"""A LIBERO task as a :class:`~cliprt_envs.tasks.Task`: LIBERO's instruction, init states and success."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from cliprt_envs.tasks.base import Task


class LiberoTask(Task):
    """Says LIBERO's own instruction, starts from LIBERO's fixed init states, asks LIBERO for success.

    ``next_index`` (set by the env from ``reset(options={"init_state_index": i})``)
    picks init state ``i % 50``; without it a random one is drawn from the env's rng.
    The index used is kept in ``target`` (and so in the saved state).
    """

    templates: ClassVar[tuple[str, ...]] = ("{instruction}",)

    def __init__(self, suite_name: str, task_index: int, instruction: str, task_name: str) -> None:
        super().__init__()
        self.name = f"libero_{suite_name}_{task_index}"
        self.task_name = task_name
        self.instruction = instruction
        self.next_index: int | None = None

    def sample_initial_state(self, backend, rng: np.random.Generator) -> dict[str, str]:
        index = self.next_index if self.next_index is not None else int(rng.integers(len(backend.init_states)))
        self.next_index = None
        self.target = backend.reset_to(index)
        return {"instruction": self.instruction}

    def success(self, backend) -> bool:
        return backend.success()
