"""The colours the twin's instructions name, and renaming them for the pretraining corpus.

The benchmark's scenes use the six :data:`COLOURS` (each Common task with the
same objects every episode: Pick always has a red cube and a green cylinder).
A pretraining corpus that only ever shows those pairs lets a policy tie
"red" to the cube rather than to the hue. :func:`draw_renaming` gives every
reset of a corpus scene (``SceneVariation.recolour``) a new, one-to-one
renaming of those colours into :data:`NAMED_COLOURS`, which adds colours the
benchmark never shows; the scene is repainted and the instruction's colour
words renamed to match (:func:`rename_colours`), so every relation the task
relies on ("a distractor shares the target's colour", "the plate's colour
is no object's") still holds. The Novel tasks' own colour names (a laptop's
"silver" and "black") are deliberately not among them.

:data:`UNSEEN_COLOURS` is a second palette that no dataset of this project
shows or names (``SceneVariation(palette="unseen")``; the runner's
``--scene unseen_colours``): every colour of a scene renamed into it is a
word no policy here trained on, so it measures whether colour words carry
over from the text tower rather than from the data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

RGBA = tuple[float, float, float, float]

#: The colours of the benchmark's scenes.
COLOURS: dict[str, RGBA] = {
    "red": (0.85, 0.12, 0.1, 1.0),
    "green": (0.1, 0.65, 0.2, 1.0),
    "blue": (0.12, 0.25, 0.85, 1.0),
    "yellow": (0.95, 0.8, 0.1, 1.0),
    "purple": (0.55, 0.2, 0.7, 1.0),
    "orange": (0.95, 0.5, 0.1, 1.0),
}

#: Colours only a renamed corpus scene shows (named by words people use, far apart in hue or lightness).
CORPUS_COLOURS: dict[str, RGBA] = {
    "pink": (0.98, 0.5, 0.72, 1.0),
    "brown": (0.45, 0.27, 0.1, 1.0),
    "white": (0.96, 0.96, 0.94, 1.0),
    "cyan": (0.1, 0.78, 0.85, 1.0),
}

NAMED_COLOURS: dict[str, RGBA] = {**COLOURS, **CORPUS_COLOURS}

#: Colours no dataset shows or names (one per benchmark colour, so a renamed scene names only these).
UNSEEN_COLOURS: dict[str, RGBA] = {
    "magenta": (0.85, 0.1, 0.6, 1.0),
    "lime": (0.6, 0.9, 0.15, 1.0),
    "navy": (0.05, 0.1, 0.4, 1.0),
    "grey": (0.5, 0.5, 0.5, 1.0),
    "teal": (0.0, 0.5, 0.5, 1.0),
    "maroon": (0.5, 0.05, 0.1, 1.0),
}

#: The palettes a renaming draws from: the corpus's (``NAMED_COLOURS``), or one no data uses.
PALETTES: dict[str, dict[str, RGBA]] = {"corpus": NAMED_COLOURS, "unseen": UNSEEN_COLOURS}


def muted(rgba: RGBA) -> RGBA:
    """A paler tone of a colour (painted furniture such as drawers)."""
    r, g, b, a = rgba
    return (0.6 * r + 0.2, 0.6 * g + 0.2, 0.6 * b + 0.2, a)


def draw_renaming(rng: np.random.Generator, palette: str = "corpus") -> dict[str, str]:
    """A random one-to-one renaming of every :data:`COLOURS` name into a palette of :data:`PALETTES`."""
    names = list(PALETTES[palette])
    chosen = rng.choice(len(names), size=len(COLOURS), replace=False)
    return {base: names[int(i)] for base, i in zip(COLOURS, chosen)}


def rename_colours(text: str, renaming: Mapping[str, str]) -> str:
    """``text`` with every colour word renamed at once (so red -> blue and blue -> red swap cleanly)."""
    if not renaming:
        return text
    pattern = re.compile(r"\b(" + "|".join(re.escape(c) for c in renaming) + r")\b")
    return pattern.sub(lambda m: renaming[m.group(1)], text)


def colour_of(rgba: np.ndarray) -> tuple[str, bool] | None:
    """The :data:`COLOURS` name a geom was painted with and whether it is the muted tone, else None."""
    for name, value in COLOURS.items():
        for tone, is_muted in ((value, False), (muted(value), True)):
            if np.allclose(rgba[:3], tone[:3], atol=1e-6):
                return name, is_muted
    return None
