"""The MuJoCo UR5 twin as a :class:`~cliprt_envs.protocols.RobotBackend`.

A move follows a straight Cartesian path in 2 cm / 10 degree waypoints. The
whole joint path is planned by IK on a scratch copy first; if a waypoint is
unreachable the move stops at the last reachable one and reports
``ik_failed``. The planned joint targets are then tracked by stiff position
servos (gravity-compensated links), so objects are pushed and grasped by
contact physics, never welded to the gripper.

Rotation deltas are right-hand rotations about the world x/y/z axes through
the tool-centre point ("clockwise" seen looking along the axis); the gripper
rotation turns the tool about its own axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

import mujoco
import numpy as np

from cliprt_envs.protocols import BackendContext, MoveResult, Workspace
from cliprt_envs.sim.clutter import ClutterScatter, clutter_objects
from cliprt_envs.sim.kinematics import ArmKinematics, IKConfig, rotation_error, rotation_matrix
from cliprt_envs.sim.scene import FINGER_MAX_OPENING, HOME_POSITION, HOME_ROTATION, UR5_JOINTS, SceneSpec, build_mjcf
from cliprt_envs.sim.variation import SceneVariation, SceneVariator

_HOME_SEED = np.array([0.0, -0.5, 1.5, 0.5, -1.57, 0.0])
__all__ = ["DEFAULT_WORKSPACE", "HOME_POSITION", "HOME_ROTATION", "MujocoUR5Backend", "SimConfig"]

DEFAULT_WORKSPACE = Workspace(low=(0.25, -0.35, 0.01), high=(0.80, 0.35, 0.50))
#: A scene joint "moved" (:meth:`MujocoUR5Backend.moved_bodies`) past this: a free body's position 2 cm,
#: a slide (drawer) 1 cm, a hinge (lid) 10 degrees.
MOVED = {"free": 0.02, "slide": 0.01, "hinge": math.radians(10.0)}


class _SceneJoint(NamedTuple):
    """A joint not on the robot: where its values start in qpos, the body it moves, its kind (free, slide, hinge)."""

    adr: int
    body: str
    kind: str

    @property
    def width(self) -> int:
        """Values it adds to the scene signature: a free body its position (3), a slide or hinge its value (1)."""
        return 3 if self.kind == "free" else 1


@dataclass(frozen=True)
class SimConfig:
    """How the twin executes motions."""

    waypoint_distance: float = 0.02  # metres between Cartesian waypoints
    waypoint_angle: float = math.radians(10.0)
    substeps_per_waypoint: int = 32  # 64 ms of simulated time per waypoint
    settle_steps: int = 200  # at most; settling stops once the arm is on target
    settle_check_every: int = 10
    settle_tolerance: float = 2e-3  # rad
    gripper_steps: int = 120
    workspace: Workspace = DEFAULT_WORKSPACE
    ik: IKConfig = IKConfig()
    variation: SceneVariation | None = None  # a new look (colours, light, camera poses) at every reset


class MujocoUR5Backend(BackendContext):
    """Owns the MuJoCo model and data of one twin (``with MujocoUR5Backend(scene) as backend: ...``)."""

    exact_state = True

    def __init__(self, scene: SceneSpec, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        clutter = self.config.variation.clutter if self.config.variation is not None else 0
        if clutter:
            scene = replace(scene, clutter=clutter_objects())
        self.scene = scene
        self.workspace = self.config.workspace
        self.model = mujoco.MjModel.from_xml_string(build_mjcf(scene))
        self.data = mujoco.MjData(self.model)
        self.kinematics = ArmKinematics(self.model, UR5_JOINTS, "tcp", self.config.ik)
        self.arm_qadr = self.kinematics.qadr
        self.arm_dofadr = self.kinematics.dofadr
        self.arm_act = np.array([self.model.actuator(n).id for n in UR5_JOINTS])
        self.finger_act = np.array([self.model.actuator(n).id for n in ("left_finger", "right_finger")])
        self.finger_qadr = np.array([self.model.joint(n).qposadr[0] for n in ("left_finger", "right_finger")])
        self.finger_dofadr = np.array([self.model.joint(n).dofadr[0] for n in ("left_finger", "right_finger")])
        self.tcp_site = self.model.site("tcp").id
        self.table_geom = self.model.geom("table").id
        self._is_robot_geom = np.zeros(self.model.ngeom, dtype=bool)
        self._is_robot_geom[list(self._geoms_of(("gripper", "left_finger", "right_finger")))] = True
        home = self.kinematics.solve(_HOME_SEED, HOME_POSITION, HOME_ROTATION)
        if not home.success:  # pragma: no cover - a model error, not a user error
            raise RuntimeError("the twin's home pose is unreachable; the MJCF is inconsistent")
        self.home_qpos = home.qpos
        self._state_spec = mujoco.mjtState.mjSTATE_INTEGRATION
        self._scene_joints = self._object_joints()
        self._variator = None
        if self.config.variation is not None:
            objects = self._geoms_of(tuple(o.name for o in scene.objects))
            self._variator = SceneVariator(self.model, self.config.variation, np.array(sorted(objects), dtype=int))
        self._clutter = None
        if clutter:
            names = tuple(o.name for o in scene.clutter)
            self._clutter = ClutterScatter(self.model, names, robot_root=self.model.body("base").id)
        self.reset_robot()

    # -- protocol -----------------------------------------------------------
    def connect(self) -> None:
        """Nothing to connect to: the twin is in-process."""

    def close(self) -> None:
        """Nothing to release (MuJoCo frees the model with the object)."""

    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, self.data.site_xmat[self.tcp_site])
        return self.data.site_xpos[self.tcp_site].copy(), quat

    def tcp_rotation(self) -> np.ndarray:
        return self.data.site_xmat[self.tcp_site].reshape(3, 3).copy()

    def gripper_opening(self) -> float:
        return float(np.clip(self.data.qpos[self.finger_qadr].mean() / FINGER_MAX_OPENING, 0.0, 1.0))

    def save_state(self) -> np.ndarray:
        size = mujoco.mj_stateSize(self.model, self._state_spec)
        state = np.empty(size)
        mujoco.mj_getState(self.model, self.data, state, self._state_spec)
        return state

    def restore_state(self, state: np.ndarray) -> None:
        state = np.asarray(state, dtype=np.float64)
        size = mujoco.mj_stateSize(self.model, self._state_spec)
        if state.shape != (size,):
            raise ValueError(
                f"a saved state of this scene has {size} numbers, got shape {state.shape}; was it saved from another task?"
            )
        mujoco.mj_setState(self.model, self.data, state, self._state_spec)
        mujoco.mj_forward(self.model, self.data)
        # mj_forward overwrites the solver warm-start; set the state again so the
        # next step is bit-identical to the one that followed the saved state.
        mujoco.mj_setState(self.model, self.data, state, self._state_spec)

    def move(self, delta: np.ndarray) -> MoveResult:
        delta = np.asarray(delta, dtype=np.float64)
        if delta.shape != (8,) or not np.all(np.isfinite(delta)):
            raise ValueError(f"a move is a finite 8-D delta, got {delta!r}")
        pos0, rot0 = self.tcp_pose()[0], self.tcp_rotation()
        w3_0 = float(self.data.qpos[self.arm_qadr[5]])
        open0 = self.gripper_opening()
        dxyz, clamped = self.workspace.clamp_step(pos0, delta[:3])
        commanded = delta.copy()
        commanded[:3] = dxyz
        ik_failed = joint_limited = collision = False
        if np.any(np.abs(commanded[:7]) > 1e-9):
            ik_failed, joint_limited, collision = self._move_arm(pos0, rot0, commanded)
        if delta[7] != 0:
            collision |= self._actuate_gripper(open_=delta[7] > 0)
        # After mj_step, positions and contacts describe the state *before* the
        # last integration; recompute them so observations, success checks and
        # the next plan see the current state (and match a restored state).
        mujoco.mj_forward(self.model, self.data)
        pos1, rot1 = self.tcp_pose()[0], self.tcp_rotation()
        achieved = np.zeros(8)
        achieved[:3] = pos1 - pos0
        achieved[3:6] = rotation_error(rot0, rot1)
        achieved[6] = float(self.data.qpos[self.arm_qadr[5]]) - w3_0
        achieved[7] = self.gripper_opening() - open0
        return MoveResult(
            commanded=commanded,
            achieved=achieved,
            ik_failed=ik_failed,
            joint_limited=joint_limited,
            table_collision=collision,
            extra={"workspace_clamped": clamped},
        )

    def scene_signature(self) -> tuple[float, ...]:
        """Where everything that is not the robot is: a hashable summary of the object layout.

        Free bodies contribute their position (x, y, z), slide and hinge
        joints (drawers, doors) their value, in model order; mocap fixtures
        (plates, cabinets) are not included. Exact floats: compare two
        signatures with a tolerance to notice a knocked or moved object.
        """
        qpos = self.data.qpos
        values: list[float] = []
        for joint in self._scene_joints:
            values.extend(float(v) for v in qpos[joint.adr : joint.adr + joint.width])
        return tuple(values)

    def moved_bodies(self, since: tuple[float, ...]) -> tuple[str, ...]:
        """The bodies whose scene joint has moved past :data:`MOVED` since ``since`` (an earlier :meth:`scene_signature`).

        In model order; a body is the one its joint moves (a laptop's lid, a drawer, a free object).
        """
        now = self.scene_signature()
        if len(since) != len(now):
            raise ValueError(f"a scene signature of {len(now)} values is needed, got {len(since)}")
        moved, at = [], 0
        for joint in self._scene_joints:
            if math.dist(now[at : at + joint.width], since[at : at + joint.width]) > MOVED[joint.kind]:
                moved.append(joint.body)
            at += joint.width
        return tuple(moved)

    # -- scene helpers used by tasks ----------------------------------------
    def vary_scene(self, rng: np.random.Generator) -> None:
        """A new look for the scene when ``SimConfig.variation`` is set (else nothing); called at reset."""
        if self._variator is not None:
            self._variator.apply(rng)

    def scatter_clutter(self, rng: np.random.Generator, keep_clear: Callable[[], tuple[np.ndarray, ...]]) -> tuple[str, ...]:
        """With ``SceneVariation.clutter``: a few extra objects on the table (else nothing).

        ``keep_clear`` gives the points they keep well away from, read once the objects just placed are posed.
        """
        if self._clutter is None:
            return ()
        mujoco.mj_kinematics(self.model, self.data)
        return self._clutter.scatter(self.data, rng, self.config.variation.clutter, keep_clear())

    @property
    def colour_renaming(self) -> dict[str, str]:
        """How the last :meth:`vary_scene` renamed the named colours (empty: not renamed)."""
        return dict(self._variator.renaming) if self._variator is not None else {}

    def reset_robot(self, qpos: np.ndarray | None = None, gripper_open: bool = True) -> None:
        """Put everything back to the model's defaults and the arm at ``qpos`` (home)."""
        mujoco.mj_resetData(self.model, self.data)
        q = self.home_qpos if qpos is None else qpos
        self.data.qpos[self.arm_qadr] = q
        self.data.ctrl[self.arm_act] = q
        width = FINGER_MAX_OPENING if gripper_open else 0.0
        self.data.qpos[self.finger_qadr] = width
        self.data.ctrl[self.finger_act] = width
        mujoco.mj_forward(self.model, self.data)

    def move_tcp_to(self, position: np.ndarray, rotation: np.ndarray | None = None) -> bool:
        """Teleport the arm (used only when placing the initial scene)."""
        rot = HOME_ROTATION if rotation is None else rotation
        res = self.kinematics.solve(self.data.qpos[self.arm_qadr].copy(), position, rot)
        if res.success:
            self.data.qpos[self.arm_qadr] = res.qpos
            self.data.qvel[self.arm_dofadr] = 0
            self.data.ctrl[self.arm_act] = res.qpos
            mujoco.mj_forward(self.model, self.data)
        return res.success

    def set_object_pose(self, name: str, position: np.ndarray, quat: np.ndarray | None = None) -> None:
        body = self.model.body(name)
        if body.mocapid[0] >= 0:
            self.data.mocap_pos[body.mocapid[0]] = position
            if quat is not None:
                self.data.mocap_quat[body.mocapid[0]] = quat
            return
        joint = self.model.jnt_bodyid.tolist().index(body.id)
        adr = self.model.jnt_qposadr[joint]
        dof = self.model.jnt_dofadr[joint]
        self.data.qpos[adr : adr + 3] = position
        self.data.qpos[adr + 3 : adr + 7] = (1, 0, 0, 0) if quat is None else quat
        self.data.qvel[dof : dof + 6] = 0

    def object_position(self, name: str) -> np.ndarray:
        return self.data.xpos[self.model.body(name).id].copy()

    def object_rotation(self, name: str) -> np.ndarray:
        return self.data.xmat[self.model.body(name).id].reshape(3, 3).copy()

    def joint_position(self, name: str) -> float:
        return float(self.data.qpos[self.model.joint(name).qposadr[0]])

    def site_position(self, name: str) -> np.ndarray:
        return self.data.site_xpos[self.model.site(name).id].copy()

    def settle(self, steps: int) -> None:
        for _ in range(steps):
            mujoco.mj_step(self.model, self.data)
        mujoco.mj_forward(self.model, self.data)

    def touching(self, body_a: str, body_b: str) -> bool:
        n = self.data.ncon
        if n == 0:
            return False
        bodies = self.model.geom_bodyid[self.data.contact.geom[:n]]
        a, b = self.model.body(body_a).id, self.model.body(body_b).id
        return bool((((bodies[:, 0] == a) & (bodies[:, 1] == b)) | ((bodies[:, 0] == b) & (bodies[:, 1] == a))).any())

    def grasping(self, body: str) -> bool:
        """Both fingers touch ``body`` (a physical grasp, not a weld)."""
        return self.touching("left_finger", body) and self.touching("right_finger", body)

    # -- internals ----------------------------------------------------------
    def _object_joints(self) -> tuple[_SceneJoint, ...]:
        """Every joint not on the robot, in model order."""
        robot = {int(a) for a in self.arm_qadr} | {int(a) for a in self.finger_qadr}
        kinds = {
            int(mujoco.mjtJoint.mjJNT_FREE): "free",
            int(mujoco.mjtJoint.mjJNT_SLIDE): "slide",
            int(mujoco.mjtJoint.mjJNT_HINGE): "hinge",
        }
        joints = []
        for j in range(self.model.njnt):
            adr, kind = int(self.model.jnt_qposadr[j]), kinds.get(int(self.model.jnt_type[j]))
            if adr not in robot and kind is not None:
                joints.append(_SceneJoint(adr, self.model.body(int(self.model.jnt_bodyid[j])).name, kind))
        return tuple(joints)

    def _geoms_of(self, bodies: tuple[str, ...]) -> frozenset[int]:
        ids = {self.model.body(b).id for b in bodies}
        return frozenset(int(g) for g in range(self.model.ngeom) if self.model.geom_bodyid[g] in ids)

    def _table_contact(self) -> bool:
        n = self.data.ncon
        if n == 0:
            return False
        pairs = self.data.contact.geom[:n]
        robot = self._is_robot_geom[pairs]
        table = pairs == self.table_geom
        return bool(((robot[:, 0] & table[:, 1]) | (robot[:, 1] & table[:, 0])).any())

    def _plan(self, pos0: np.ndarray, rot0: np.ndarray, delta: np.ndarray) -> tuple[list[np.ndarray], bool, bool]:
        cfg = self.config
        rot_vec = delta[3:6]
        angle = float(np.linalg.norm(rot_vec))
        n = max(
            1,
            math.ceil(np.linalg.norm(delta[:3]) / cfg.waypoint_distance - 1e-9),
            math.ceil(angle / cfg.waypoint_angle - 1e-9),
            math.ceil(abs(delta[6]) / cfg.waypoint_angle - 1e-9),
        )
        q = self.data.qpos[self.arm_qadr].copy()
        path: list[np.ndarray] = []
        limited = False
        for i in range(1, n + 1):
            f = i / n
            target_pos = pos0 + f * delta[:3]
            target_rot = rot0
            if angle > 0:
                target_rot = rotation_matrix(rot_vec / angle, f * angle) @ target_rot
            if delta[6] != 0:
                target_rot = target_rot @ rotation_matrix(np.array([0.0, 0.0, 1.0]), f * delta[6])
            res = self.kinematics.solve(q, target_pos, target_rot, coarse=i < n)
            limited |= res.joint_limited
            if not res.success or np.max(np.abs(res.qpos - q)) > 0.5:
                return path, True, limited
            q = res.qpos
            path.append(q)
        return path, False, limited

    def _move_arm(self, pos0: np.ndarray, rot0: np.ndarray, delta: np.ndarray) -> tuple[bool, bool, bool]:
        path, ik_failed, limited = self._plan(pos0, rot0, delta)
        model, data, act = self.model, self.data, self.arm_act
        collision = False
        for q in path:
            data.ctrl[act] = q
            mujoco.mj_step(model, data, nstep=self.config.substeps_per_waypoint)
            collision = collision or self._table_contact()
        target = data.ctrl[act]
        tol = self.config.settle_tolerance
        every = self.config.settle_check_every
        for _ in range(0, self.config.settle_steps, every):
            mujoco.mj_step(model, data, nstep=every)
            if np.abs(data.qpos[self.arm_qadr] - target).max() < tol and np.abs(data.qvel[self.arm_dofadr]).max() < 10 * tol:
                break
        return ik_failed, limited, collision or self._table_contact()

    def _actuate_gripper(self, open_: bool) -> bool:
        self.data.ctrl[self.finger_act] = FINGER_MAX_OPENING if open_ else 0.0
        every = self.config.settle_check_every
        mujoco.mj_step(self.model, self.data, nstep=20)
        for _ in range(20, self.config.gripper_steps, every):
            mujoco.mj_step(self.model, self.data, nstep=every)
            if np.abs(self.data.qvel[self.finger_dofadr]).max() < 1e-3:
                break
        return self._table_contact()
