"""How an agent that scores motions picks one: the best (greedy) or a draw from its distribution.

CLIP-RT and BC are trained with a cross-entropy over the motion vocabulary, so
``softmax(logits)`` is each model's own distribution over motions. ``sample``
draws from ``softmax(logits / temperature)`` (times any scorer's factors);
``temperature < 1`` sharpens it towards the best motion. A greedy policy
that is wrong in a state repeats the same motion for as long as the state
looks the same; a draw leaves such a loop sooner (measured in the README).

Agent specs carry the choice as options: ``clip-rt=PATH?selection=sample&temperature=0.3``
(also ``bc=``; ``ppo=PATH?selection=sample`` draws from PPO's own policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

SELECTIONS = ("greedy", "sample")

#: The agent-spec options :func:`selection_from_options` reads (``selection`` alone for agents without logits).
SELECTION_OPTIONS = ("selection", "temperature")


@dataclass(frozen=True)
class MotionSelection:
    mode: str = "greedy"  # "greedy": argmax; "sample": a draw from softmax(logits / temperature)
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.mode!r}")
        if not (isinstance(self.temperature, int | float) and np.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be a number > 0, got {self.temperature!r}")

    def choose(self, logits: np.ndarray, rng: np.random.Generator, factors: np.ndarray | None = None) -> np.ndarray:
        """One motion index per row of ``(B, N)`` logits; ``factors`` (>= 0) re-weight the motions first."""
        logits = np.asarray(logits, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_factors = np.log(factors) if factors is not None else 0.0
        if self.mode == "greedy":
            return (logits + log_factors).argmax(axis=1)
        logw = logits / self.temperature + log_factors
        chosen = np.empty(len(logw), dtype=np.int64)
        for i, row in enumerate(logw):
            top = row.max()
            if not np.isfinite(top):  # every motion ruled out: fall back to the model's best
                chosen[i] = int(logits[i].argmax())
                continue
            weights = np.exp(row - top)
            chosen[i] = int(rng.choice(len(row), p=weights / weights.sum()))
        return chosen


def selection_from_options(options: Mapping[str, Any]) -> MotionSelection:
    """The selection an agent spec's options ask for (``?selection=sample&temperature=0.3``; greedy by default)."""
    mode = str(options.get("selection", "greedy"))
    try:
        temperature = float(options.get("temperature", 1.0))
    except ValueError:
        raise ValueError(f"temperature must be a number > 0, got {options.get('temperature')!r}") from None
    return MotionSelection(mode, temperature)
