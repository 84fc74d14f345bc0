"""Extra objects on the table at every reset (the pretraining corpus's "more shapes, sizes and counts").

Every Common benchmark scene holds the same few objects every episode. With
``SceneVariation.clutter = N`` the scene is built with one spare object of
each shape in :data:`CLUTTER_SHAPES` (a ball, a capsule, an egg, a bar:
shapes no instruction names, so no task's words become ambiguous), and every
reset puts between 0 and N of them on the table, each with a new size, a
colour from :data:`~cliprt_envs.sim.colours.NAMED_COLOURS` and a random
turn, where it is clear of everything the task placed (and further still
from the object the instruction names, so an expert's reach, push or carry
is never blocked). Spare objects not on the table wait far below the room,
invisible and weightless (gravity-compensated), so they never touch
anything. Sizes and colours are model parameters, set at reset, so a saved
state restores correctly only within the episode it came from (as with the
rest of the visual variation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from cliprt_envs.sim.colours import NAMED_COLOURS
from cliprt_envs.sim.scene import CLUTTER_PARK_Z, TABLE_TOP_Z, SceneObject

#: The spare objects: (name suffix, MuJoCo shape, nominal half-sizes). Each reset scales every size by SIZE_RANGE.
CLUTTER_SHAPES: tuple[tuple[str, str, tuple[float, ...]], ...] = (
    ("ball", "sphere", (0.022,)),
    ("capsule", "capsule", (0.014, 0.02)),
    ("egg", "ellipsoid", (0.03, 0.02, 0.016)),
    ("bar", "box", (0.045, 0.013, 0.013)),
)
MAX_CLUTTER = len(CLUTTER_SHAPES)
SIZE_RANGE = (0.7, 1.35)
#: Where spare objects go on the table (metres, world frame): the part every camera sees.
TABLE_X = (0.3, 0.7)
TABLE_Y = (-0.3, 0.3)
#: Clear space between a spare object's bounding circle and anything else's, and around the named object.
GAP = 0.03
TARGET_GAP = 0.12
NEUTRAL_RGBA = (0.5, 0.5, 0.5, 1.0)  # as built: no named colour, so a recoloured scene leaves it alone


def clutter_objects() -> tuple[SceneObject, ...]:
    """The spare objects a scene with clutter is built with (one per shape)."""
    return tuple(SceneObject(f"clutter_{name}", shape, size, NEUTRAL_RGBA, mass=0.05) for name, shape, size in CLUTTER_SHAPES)


def _extent(shape: str, size: np.ndarray) -> np.ndarray:
    """Half-extent of a shape's axis-aligned box in its own frame."""
    if shape == "sphere":
        return np.full(3, size[0])
    if shape == "capsule":
        return np.array([size[0], size[0], size[0] + size[1]])
    return np.asarray(size[:3], dtype=np.float64)  # ellipsoid radii, box half-sizes


@dataclass(frozen=True)
class _Spare:
    body: int
    geom: int
    qadr: int
    dofadr: int
    shape: str
    size: np.ndarray


class ClutterScatter:
    """Puts a random few spare objects on the table of one model, clear of what the task placed."""

    def __init__(self, model: mujoco.MjModel, spare_names: tuple[str, ...], robot_root: int) -> None:
        self.model = model
        self._spares = []
        for name in spare_names:
            body = model.body(name).id
            geom = int(np.flatnonzero(model.geom_bodyid == body)[0])
            joint = int(np.flatnonzero(model.jnt_bodyid == body)[0])
            shape = mujoco.mjtGeom(int(model.geom_type[geom])).name.removeprefix("mjGEOM_").lower()
            spare = _Spare(
                body, geom, int(model.jnt_qposadr[joint]), int(model.jnt_dofadr[joint]), shape, model.geom_size[geom].copy()
            )
            self._spares.append(spare)
        spare_bodies = {s.body for s in self._spares}
        roots = model.body_rootid[model.geom_bodyid]
        #: geoms a spare object must keep clear of: everything on the table but the robot and the spares themselves
        self._obstacles = np.array(
            [
                g
                for g in range(model.ngeom)
                if model.geom_bodyid[g] != 0 and roots[g] != robot_root and model.geom_bodyid[g] not in spare_bodies
            ],
            dtype=int,
        )
        #: bodies now on the table
        self.placed: tuple[str, ...] = ()

    def scatter(
        self, data: mujoco.MjData, rng: np.random.Generator, most: int, keep_clear: Sequence[np.ndarray] = ()
    ) -> tuple[str, ...]:
        """Put ``0..most`` spare objects on the table (new sizes, colours, turns) well away from ``keep_clear``
        (where the expert works); park the others. ``data`` must be posed (``mj_kinematics``)."""
        taken = [(data.geom_xpos[g, :2].copy(), float(self.model.geom_rbound[g])) for g in self._obstacles]
        count = int(rng.integers(0, most + 1))
        chosen = set(rng.choice(len(self._spares), size=count, replace=False).tolist()) if count else set()
        placed = []
        for k, spare in enumerate(self._spares):
            if k in chosen and self._put(spare, data, rng, taken, keep_clear):
                placed.append(self.model.body(spare.body).name)
            else:
                self._park(spare, data, k)
        self.placed = tuple(placed)
        mujoco.mj_forward(self.model, data)
        return self.placed

    def _put(self, spare: _Spare, data: mujoco.MjData, rng: np.random.Generator, taken: list, keep_clear) -> bool:
        m = self.model
        size = spare.size * rng.uniform(*SIZE_RANGE, size=spare.size.shape)
        extent = _extent(spare.shape, size)
        radius = float(np.linalg.norm(extent[:2])) if spare.shape == "box" else float(extent[:2].max())
        for _ in range(200):
            p = np.array([rng.uniform(*TABLE_X), rng.uniform(*TABLE_Y)])
            if any(np.linalg.norm(p - np.asarray(q)[:2]) < TARGET_GAP + radius for q in keep_clear):
                continue
            if all(np.linalg.norm(p - q) >= r + radius + GAP for q, r in taken):
                break
        else:
            return False
        taken.append((p, radius))
        m.geom_size[spare.geom] = size
        m.geom_rbound[spare.geom] = float(np.linalg.norm(extent)) if spare.shape == "box" else float(extent.max())
        m.geom_aabb[spare.geom] = np.concatenate([np.zeros(3), extent])
        colour = NAMED_COLOURS[list(NAMED_COLOURS)[int(rng.integers(len(NAMED_COLOURS)))]]
        m.geom_rgba[spare.geom] = (*np.clip(np.asarray(colour[:3]) * rng.uniform(0.85, 1.15), 0.0, 1.0), 1.0)
        m.body_gravcomp[spare.body] = 0.0
        yaw = rng.uniform(-np.pi, np.pi)
        data.qpos[spare.qadr : spare.qadr + 3] = (p[0], p[1], TABLE_TOP_Z + extent[2] + 0.001)
        data.qpos[spare.qadr + 3 : spare.qadr + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
        data.qvel[spare.dofadr : spare.dofadr + 6] = 0.0
        return True

    def _park(self, spare: _Spare, data: mujoco.MjData, k: int) -> None:
        m = self.model
        m.geom_rgba[spare.geom, 3] = 0.0
        m.body_gravcomp[spare.body] = 1.0
        data.qpos[spare.qadr : spare.qadr + 3] = (float(k), 0.0, CLUTTER_PARK_Z)  # as built: a metre apart
        data.qpos[spare.qadr + 3 : spare.qadr + 7] = (1.0, 0.0, 0.0, 0.0)
        data.qvel[spare.dofadr : spare.dofadr + 6] = 0.0
