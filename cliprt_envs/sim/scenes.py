"""Named scene conditions the benchmark never shows, for measuring how a policy carries over.

Each condition turns on exactly one kind of per-reset :class:`SceneVariation`
(everything else about the scene stays as the benchmark builds it):

- ``benchmark``: the scenes as registered (no variation);
- ``renamed_colours``: the scene's named colours renamed one-to-one into the
  ten-colour palette at every reset, the instruction's colour words following
  (:mod:`cliprt_envs.sim.colours`);
- ``unseen_colours``: the same, renamed into six colours no dataset of this
  project shows or names (magenta, lime, navy, grey, teal, maroon), so every
  colour word of the instruction is one no policy here trained on;
- ``extra_objects``: up to four extra objects of shapes no instruction names
  on the table, clear of where the expert works (:mod:`cliprt_envs.sim.clutter`).

``cliprt bench run --scene NAME`` and ``python -m benchmarks.unseen_scenes`` use them.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

#: Condition name -> the SceneVariation fields it sets, and to what (empty: no variation at all).
SCENES: dict[str, dict[str, Any]] = {
    "benchmark": {},
    "renamed_colours": {"recolour": 1.0},
    "unseen_colours": {"recolour": 1.0, "palette": "unseen"},
    "extra_objects": {"clutter": 4},
}
DEFAULT_SCENE = "benchmark"


def scene_sim_config(name: str) -> Any:
    """The twin's ``SimConfig`` for condition ``name`` (None for the benchmark's own scenes)."""
    from cliprt_envs.sim.backend import SimConfig
    from cliprt_envs.sim.variation import SceneVariation

    if name not in SCENES:
        raise ValueError(f"unknown scene condition {name!r}; choose from {', '.join(SCENES)}")
    change = SCENES[name]
    if not change:
        return None
    still = {f.name: 0 for f in fields(SceneVariation) if isinstance(f.default, (int, float))}  # every range off ...
    return SimConfig(variation=SceneVariation(**{**still, **change}))  # ... but this condition's
