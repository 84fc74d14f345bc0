"""Visual variation of the twin's scene at every reset (for pretraining corpora and robustness tests).

``SceneVariation`` says how far each visual property may move from the
scene as built: the table's and the room's colours, the light, the pose of
every camera, and the shade of every object (its hue family kept, so "the
red cube" is still red). A fixed camera moves by centimetres; the wrist
camera, bolted to the tool, only by millimetres on its mount: where the
gripper is relative to what the wrist view shows is what a policy must
judge to within the expert's 6 mm, and a real wrist mount does not move. Nothing that the physics or
the task's success depends on changes. With ``recolour`` the named colours
are also renamed (:mod:`cliprt_envs.sim.colours`): the scene is repainted
and the task renames the instruction's colour words to match (``palette="unseen"``
renames them into colours no dataset uses, for measuring only). With
``clutter`` a few extra objects of shapes no instruction names lie on the
table (:mod:`cliprt_envs.sim.clutter`), placed after the task's own. It is applied
by the backend at the start of every reset
(``SimConfig(variation=SceneVariation())``), drawing from the reset's random
stream, so a seeded reset is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from cliprt_envs.sim.clutter import MAX_CLUTTER
from cliprt_envs.sim.colours import PALETTES, colour_of, draw_renaming, muted

#: Geoms and materials of the room and table that take a random tint.
TINTED_MATERIALS = ("table", "floor", "wall", "wall_side", "ceiling")


@dataclass(frozen=True)
class SceneVariation:
    """Ranges of the per-reset visual variation (0 turns a property off)."""

    material_tint: float = 0.25  # each RGB channel of table/room materials scaled by 1 +- this
    object_shade: float = 0.12  # object RGB scaled by 1 +- this (one factor per object: the hue stays)
    light: float = 0.35  # light and headlight intensity scaled by 1 +- this
    light_shift: float = 0.4  # metres the light moves in x and y
    camera_shift: float = 0.03  # metres each fixed camera moves along each axis
    camera_turn: float = 4.0  # degrees each fixed camera turns about a random axis
    mount_shift: float = 0.005  # metres a camera carried by the arm (the wrist camera) moves on its mount
    mount_turn: float = 1.0  # degrees a camera carried by the arm turns on its mount
    recolour: float = 0.0  # chance per reset that the named colours are renamed (0: the scene's own colours)
    palette: str = "corpus"  # what they are renamed into: "corpus" (NAMED_COLOURS) or "unseen" (words no data uses)
    clutter: int = 0  # most extra objects put on the table per reset (cliprt_envs.sim.clutter; 0: none)

    def __post_init__(self) -> None:
        for name, limit in _LIMITS.items():
            value = float(getattr(self, name))
            if not 0.0 <= value < limit:
                raise ValueError(f"SceneVariation.{name} must be in [0, {limit}); got {value!r}")
        if not 0.0 <= float(self.recolour) <= 1.0:
            raise ValueError(f"SceneVariation.recolour must be in [0, 1]; got {self.recolour!r}")
        if float(self.clutter) != int(self.clutter) or not 0 <= int(self.clutter) <= MAX_CLUTTER:
            raise ValueError(f"SceneVariation.clutter must be a whole number in [0, {MAX_CLUTTER}]; got {self.clutter!r}")
        object.__setattr__(self, "clutter", int(self.clutter))
        if self.palette not in PALETTES:
            raise ValueError(f"SceneVariation.palette must be one of {tuple(PALETTES)}; got {self.palette!r}")


_LIMITS = {
    "material_tint": 1.0,
    "object_shade": 1.0,
    "light": 1.0,
    "light_shift": 5.0,
    "camera_shift": 0.5,
    "camera_turn": 90.0,
    "mount_shift": 0.5,
    "mount_turn": 90.0,
}


class SceneVariator:
    """Applies a :class:`SceneVariation` to one MuJoCo model, always starting from the model as built."""

    def __init__(self, model: mujoco.MjModel, variation: SceneVariation, object_geoms: np.ndarray) -> None:
        self.model = model
        self.variation = variation
        self._materials = np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_MATERIAL, n) for n in TINTED_MATERIALS])
        self._materials = self._materials[self._materials >= 0]
        self._objects = np.asarray(object_geoms, dtype=int)
        #: cameras on a moving body (the wrist camera): bolted to the tool, they move far less than a tripod
        self._on_arm = np.asarray(model.cam_bodyid != 0, dtype=bool)
        #: geoms painted with a named colour: (geom id, colour name, muted tone)
        self._painted = [(g, *c) for g in range(model.ngeom) if (c := colour_of(model.geom_rgba[g])) is not None]
        #: the current renaming of the named colours (empty: none)
        self.renaming: dict[str, str] = {}
        self._base = {
            "mat_rgba": model.mat_rgba.copy(),
            "geom_rgba": model.geom_rgba.copy(),
            "light_diffuse": model.light_diffuse.copy(),
            "light_pos": model.light_pos.copy(),
            "headlight": model.vis.headlight.diffuse.copy(),
            "cam_pos": model.cam_pos.copy(),
            "cam_quat": model.cam_quat.copy(),
        }

    def apply(self, rng: np.random.Generator) -> None:
        """Draw a new look for the scene (replacing the previous one)."""
        v, m, base = self.variation, self.model, self._base
        m.mat_rgba[:] = base["mat_rgba"]
        if len(self._materials):
            tint = 1.0 + rng.uniform(-v.material_tint, v.material_tint, (len(self._materials), 3))
            m.mat_rgba[self._materials, :3] = np.clip(base["mat_rgba"][self._materials, :3] * tint, 0.0, 1.0)
        m.geom_rgba[:] = base["geom_rgba"]
        self.renaming = {}
        if v.recolour > 0 and rng.uniform() < v.recolour:
            self.renaming = draw_renaming(rng, v.palette)
            for geom, name, is_muted in self._painted:
                rgba = PALETTES[v.palette][self.renaming[name]]
                m.geom_rgba[geom, :3] = (muted(rgba) if is_muted else rgba)[:3]
        if len(self._objects):
            shade = 1.0 + rng.uniform(-v.object_shade, v.object_shade, (len(self._objects), 1))
            m.geom_rgba[self._objects, :3] = np.clip(m.geom_rgba[self._objects, :3] * shade, 0.0, 1.0)
        gain = 1.0 + rng.uniform(-v.light, v.light)
        m.light_diffuse[:] = np.clip(base["light_diffuse"] * gain, 0.0, 1.0)
        m.vis.headlight.diffuse[:] = np.clip(base["headlight"] * (1.0 + rng.uniform(-v.light, v.light)), 0.0, 1.0)
        m.light_pos[:] = base["light_pos"]
        m.light_pos[:, :2] += rng.uniform(-v.light_shift, v.light_shift, (m.nlight, 2))
        shift = np.where(self._on_arm, v.mount_shift, v.camera_shift)[:, None]
        m.cam_pos[:] = base["cam_pos"] + rng.uniform(-1.0, 1.0, base["cam_pos"].shape) * shift
        for i in range(m.ncam):
            turn = v.mount_turn if self._on_arm[i] else v.camera_turn
            m.cam_quat[i] = _turned(base["cam_quat"][i], rng, np.radians(turn))


def _turned(quat: np.ndarray, rng: np.random.Generator, max_angle: float) -> np.ndarray:
    """``quat`` turned by up to ``max_angle`` about a random axis."""
    if max_angle <= 0:
        return quat.copy()
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis) + 1e-12
    turn = np.zeros(4)
    mujoco.mju_axisAngle2Quat(turn, axis, rng.uniform(-max_angle, max_angle))
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, quat, turn)
    return out
