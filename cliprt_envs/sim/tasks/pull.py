"""Pull: pull the named object toward the robot by at least 10 cm.

The closed fingers come down on the far side of the object and draw it back
along -x (a hook-like pull; the object is never lifted).
"""

from __future__ import annotations

from cliprt_envs.sim.tasks.base import Item, cube, cylinder
from cliprt_envs.sim.tasks.push import PushTask


class PullTask(PushTask):
    name = "Pull"
    max_steps = 40
    summary = "pull the named object toward the robot by 10 cm or more"
    templates = (
        "pull the {target} {direction}",
        "drag the {target} {direction}",
        "pull the {target} {direction} by about 10 centimeters",
        "bring the {target} {direction}",
    )
    #: Phrasings kept out of every dataset (gym.make(..., phrasings="held_out")).
    heldout_templates = (
        "tug the {target} {direction}",
        "haul the {target} {direction}",
    )
    directions = (
        ("toward the robot", (-1.0, 0.0), (0.5, 0.62), (-0.2, 0.2)),
        ("back", (-1.0, 0.0), (0.5, 0.62), (-0.2, 0.2)),
        ("closer", (-1.0, 0.0), (0.5, 0.62), (-0.2, 0.2)),
    )

    def make_items(self) -> tuple[Item, ...]:
        return (cube("purple"), cube("orange"), cube("green"), cylinder("red"))
