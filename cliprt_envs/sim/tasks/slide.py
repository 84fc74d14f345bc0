"""Slide: slide the named object to the left or to the right by at least 10 cm.

Left is +y in the robot frame (the vocabulary's "move the arm to the left").
The instruction says which way; the object must stay on the table.
"""

from __future__ import annotations

from cliprt_envs.sim.tasks.base import Item, cube, cylinder
from cliprt_envs.sim.tasks.push import PushTask


class SlideTask(PushTask):
    name = "Slide"
    max_steps = 40
    summary = "slide the named object left or right by 10 cm, not lifting it"
    templates = (
        "slide the {target} to the {direction}",
        "push the {target} to the {direction}",
        "move the {target} to the {direction} without lifting it",
        "slide the {target} {direction}ward along the table",
    )
    #: Phrasings kept out of every dataset (gym.make(..., phrasings="held_out")).
    heldout_templates = (
        "scoot the {target} over to the {direction}",
        "glide the {target} to the {direction} side",
    )
    directions = (
        ("left", (0.0, 1.0), (0.4, 0.58), (-0.2, 0.02)),
        ("right", (0.0, -1.0), (0.4, 0.58), (-0.02, 0.2)),
    )

    def make_items(self) -> tuple[Item, ...]:
        return (cube("blue"), cube("yellow"), cylinder("red"), cube("green"))
