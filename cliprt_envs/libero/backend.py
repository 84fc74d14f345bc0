"""One LIBERO task as a :class:`~cliprt_envs.protocols.RobotBackend`.

LIBERO's Panda takes OSC_POSE delta commands at 20 Hz: 7 numbers clipped to
[-1, 1], where 1.0 moves the controller's goal 5 cm (position) or 0.5 rad
(rotation, axis-angle in the robot base frame) away from the current pose, and
the last number is the gripper (-1 open, +1 close). The robot base sits at
``x = -0.66`` facing +x, so LIBERO's base frame is our robot frame (x away from
the base, y to the left, z up) and a language motion's delta needs no change
of axes.

A language motion (:meth:`LiberoBackend.move`) becomes a closed-loop run of
OSC commands towards the commanded pose, repeated until the pose is reached
within :attr:`LiberoConfig.position_tolerance` / ``rotation_tolerance``, the
arm stalls, or :attr:`LiberoConfig.max_motion_steps` control steps pass; open
and close run the gripper until its fingers stop. A native 7-D action
(:meth:`LiberoBackend.native_step`) is one control step, exactly LIBERO's.

The env is built with ``use_camera_obs=False``: cameras are rendered only when
an observation is read (:mod:`cliprt_envs.libero.camera`), not at every
intermediate control step of a motion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cliprt_envs.libero.bootstrap import LiberoModules
from cliprt_envs.libero.suites import SETTLE_STEPS, LiberoSuite
from cliprt_envs.protocols import BackendContext, MoveResult, Workspace
from cliprt_envs.rotations import matrix_to_quat_wxyz, matrix_to_rotvec, rotvec_to_matrix

#: Metres / radians of goal change per unit of an OSC_POSE command (robosuite's output_max).
POSITION_UNIT_M = 0.05
ROTATION_UNIT_RAD = 0.5
#: LIBERO's gripper commands.
LIBERO_OPEN, LIBERO_CLOSE = -1.0, 1.0
#: robosuite's Panda gripper integrates its command into a 2-vector (one per finger).
GRIPPER_ACTION_SIZE = 2
#: Panda finger joint travel (each finger), metres.
FINGER_TRAVEL_M = 0.04
#: LIBERO's table-top workspace around the Panda, metres in the base-aligned world frame.
LIBERO_WORKSPACE = Workspace(low=(-0.5, -0.5, 0.85), high=(0.4, 0.5, 1.5))


@dataclass(frozen=True)
class LiberoConfig:
    """How a LIBERO task is built and how language motions run on it."""

    position_tolerance: float = 0.005  # metres: a motion is done within this of its target
    rotation_tolerance: float = np.deg2rad(3.0)  # radians
    max_motion_steps: int = 50  # control steps one language motion may take (2.5 s at 20 Hz)
    gain: float = 2.0  # OSC command = gain * remaining error / unit, clipped to [-1, 1]
    gripper_steps: int = 20  # control steps open/close may take
    stall_steps: int = 6  # a motion stops when the error shrank < 1 mm over this many steps
    settle_steps: int = SETTLE_STEPS
    hard_reset: bool = False  # True: rebuild the MuJoCo model at every reset (LIBERO's default; 2-8 s)
    shadows: bool = False  # shadows and reflections: off by default (2x faster rendering in software)
    workspace: Workspace = field(default=LIBERO_WORKSPACE)


def target_rotation(start: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The commanded orientation: world roll/pitch/yaw (x, then y, then z) and a turn about the tool axis."""
    world = rotvec_to_matrix([0, 0, delta[5]]) @ rotvec_to_matrix([0, delta[4], 0]) @ rotvec_to_matrix([delta[3], 0, 0])
    return world @ start @ rotvec_to_matrix([0, 0, delta[6]])


class LiberoBackend(BackendContext):
    """Owns one LIBERO ``OffScreenRenderEnv`` (``with LiberoBackend(...) as backend: ...``)."""

    #: MuJoCo's whole integration state is restored, but the first pose read after a restore is
    #: freshly computed rather than the last substep's, so a continued episode agrees to ~1e-4, not bit for bit.
    exact_state = False

    def __init__(self, modules: LiberoModules, suite: LiberoSuite, task_index: int, config: LiberoConfig | None = None) -> None:
        self.config = config or LiberoConfig()
        self.workspace = self.config.workspace
        self.suite = suite
        self.task_index = task_index
        bench = modules.benchmark.get_benchmark_dict()[suite.benchmark]()
        task = bench.get_task(task_index)
        self.task_name = task.name
        self.instruction = str(task.language)
        self.init_states = np.asarray(bench.get_task_init_states(task_index))
        bddl = f"{modules.libero.get_libero_path('bddl_files')}/{task.problem_folder}/{task.bddl_file}"
        self.env = modules.envs.OffScreenRenderEnv(
            bddl_file_name=bddl,
            use_camera_obs=False,
            hard_reset=self.config.hard_reset,
            ignore_done=True,
            horizon=10**9,
            camera_heights=16,
            camera_widths=16,
        )
        self.gripper_command = LIBERO_OPEN
        self.control_steps = 0  # since the settle steps of the last reset
        self.env.reset()
        self._apply_render_settings()

    # -- protocol -------------------------------------------------------------------------
    def connect(self) -> None:
        """Nothing to connect to: LIBERO runs in-process."""

    def close(self) -> None:
        env, self.env = getattr(self, "env", None), None
        if env is not None:
            env.close()

    @property
    def sim(self):
        return self.env.sim

    @property
    def _robot(self):
        """robosuite's Panda (looked up each time: a hard reset builds new robot objects)."""
        return self.env.env.robots[0]

    def _eef_site(self) -> int:
        return self._robot.eef_site_id

    def tcp_position(self) -> np.ndarray:
        return np.array(self.sim.data.site_xpos[self._eef_site()], dtype=np.float64)

    def tcp_rotation(self) -> np.ndarray:
        return np.array(self.sim.data.site_xmat[self._eef_site()], dtype=np.float64).reshape(3, 3)

    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        return self.tcp_position(), matrix_to_quat_wxyz(self.tcp_rotation())

    def finger_qpos(self) -> np.ndarray:
        return np.array([self.sim.data.qpos[i] for i in self._robot._ref_gripper_joint_pos_indexes])

    def gripper_opening(self) -> float:
        q = self.finger_qpos()
        return float(np.clip((abs(q[0]) + abs(q[-1])) / (2 * FINGER_TRAVEL_M), 0.0, 1.0))

    def save_state(self) -> np.ndarray:
        """``[MuJoCo integration state..., gripper command, control steps, robosuite's gripper action (2)]``.

        MuJoCo's full integration state (with the solver warm start), not LIBERO's
        ``time, qpos, qvel`` (see :attr:`exact_state`).
        """
        import mujoco

        model, data = self.sim.model._model, self.sim.data._data
        state = np.empty(mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_INTEGRATION))
        mujoco.mj_getState(model, data, state, mujoco.mjtState.mjSTATE_INTEGRATION)
        action = np.broadcast_to(self._robot.gripper.current_action, (GRIPPER_ACTION_SIZE,))
        return np.concatenate([state, [self.gripper_command, self.control_steps], action])

    def restore_state(self, state: np.ndarray) -> None:
        import mujoco

        model, data = self.sim.model._model, self.sim.data._data
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        state = np.asarray(state, dtype=np.float64)
        n = mujoco.mj_stateSize(model, spec)
        if state.shape != (n + 2 + GRIPPER_ACTION_SIZE,):
            raise ValueError(
                f"a saved state of this LIBERO task has {n + 2 + GRIPPER_ACTION_SIZE} numbers, got shape {state.shape}"
            )
        mujoco.mj_setState(model, data, state[:n], spec)
        mujoco.mj_forward(model, data)
        mujoco.mj_setState(model, data, state[:n], spec)  # mj_forward overwrote the warm start
        self.gripper_command, self.control_steps = float(state[n]), int(state[n + 1])
        self._robot.gripper.current_action = state[n + 2 :].copy()

    # -- episodes -----------------------------------------------------------------------------
    def reset_to(self, init_index: int) -> int:
        """Reset to LIBERO's fixed initial state ``init_index % 50``, then the settle steps; returns the index used."""
        index = int(init_index) % len(self.init_states)
        self._seeded_reset(index)
        self._apply_render_settings()
        import mujoco

        # LIBERO's init state holds time, qpos and qvel only: clear the rest (solver warm start,
        # controls, activations) so that the same index always gives bit-identical episodes.
        mujoco.mj_resetData(self.sim.model._model, self.sim.data._data)
        self.env.set_init_state(self.init_states[index])
        self._robot.gripper.current_action = np.zeros(GRIPPER_ACTION_SIZE)  # robosuite integrates it
        self.gripper_command = LIBERO_OPEN
        for _ in range(self.config.settle_steps):
            self.env.step(np.array([0, 0, 0, 0, 0, 0, LIBERO_OPEN]))
        self.control_steps = 0
        return index

    def _seeded_reset(self, index: int) -> None:
        """LIBERO's reset, with its fixture placement (not part of the init states) drawn from ``index``.

        LIBERO and robosuite place fixtures (cabinets, stoves) with NumPy's global generator;
        it is seeded for this call and put back as it was, so the caller's random stream is untouched.
        """
        saved = np.random.get_state()
        np.random.seed(index)
        try:
            self.env.reset()
        finally:
            np.random.set_state(saved)

    def success(self) -> bool:
        return bool(self.env.check_success())

    def _apply_render_settings(self) -> None:
        """Shadows and reflections off unless asked for (they double software rendering time)."""
        if self.config.shadows:
            return
        model = self.sim.model._model
        model.light_castshadow[:] = 0
        model.mat_reflectance[:] = 0

    # -- motion ---------------------------------------------------------------------------------
    def native_step(self, action: np.ndarray) -> None:
        """One control step with LIBERO's own 7-D action (clipped to [-1, 1] by LIBERO)."""
        action = np.asarray(action, dtype=np.float64)
        self.gripper_command = LIBERO_CLOSE if action[6] > 0 else LIBERO_OPEN
        self.env.step(action)
        self.control_steps += 1

    def move(self, delta: np.ndarray) -> MoveResult:
        """Run one 8-D language-motion delta (see the module docstring); ``extra`` says how it went."""
        delta = np.asarray(delta, dtype=np.float64)
        p0, r0, open0, steps0 = self.tcp_position(), self.tcp_rotation(), self.gripper_opening(), self.control_steps
        commanded = delta.copy()
        clamped = False
        if delta[7] != 0:
            reached = self._run_gripper(LIBERO_OPEN if delta[7] > 0 else LIBERO_CLOSE)
        else:
            commanded[:3], clamped = self.workspace.clamp_step(p0, delta[:3])
            reached = self._servo(p0 + commanded[:3], target_rotation(r0, commanded))
        achieved = self._achieved(p0, r0, open0, delta)
        extra = {"workspace_clamped": clamped, "reached": reached, "control_steps": self.control_steps - steps0}
        return MoveResult(commanded=commanded, achieved=achieved, extra=extra)

    def _errors(self, position: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return position - self.tcp_position(), matrix_to_rotvec(rotation @ self.tcp_rotation().T)

    def _servo(self, position: np.ndarray, rotation: np.ndarray) -> bool:
        """OSC commands towards the target pose; True when it was reached within the tolerances."""
        cfg = self.config
        history: list[float] = []
        for _ in range(cfg.max_motion_steps):
            dp, dr = self._errors(position, rotation)
            if np.linalg.norm(dp) < cfg.position_tolerance and np.linalg.norm(dr) < cfg.rotation_tolerance:
                return True
            history.append(float(np.linalg.norm(dp)) + float(np.linalg.norm(dr)) * 0.1)
            if len(history) > cfg.stall_steps and history[-cfg.stall_steps - 1] - history[-1] < 1e-3:
                return False  # blocked (contact, joint limit): stop instead of pushing on
            self.native_step(self._pose_command(dp, dr, self.gripper_command))
        dp, dr = self._errors(position, rotation)
        return bool(np.linalg.norm(dp) < cfg.position_tolerance and np.linalg.norm(dr) < cfg.rotation_tolerance)

    def _pose_command(self, dp: np.ndarray, dr: np.ndarray, gripper: float) -> np.ndarray:
        """The 7-D OSC command that closes a position / rotation error (clipped to LIBERO's [-1, 1])."""
        gain = self.config.gain
        return np.concatenate(
            [np.clip(gain * dp / POSITION_UNIT_M, -1, 1), np.clip(gain * dr / ROTATION_UNIT_RAD, -1, 1), [gripper]]
        )

    def _run_gripper(self, command: float) -> bool:
        """Open or close (holding the arm's pose) until the fingers stop; True when they stopped within the cap."""
        last, position, rotation = self.finger_qpos(), self.tcp_position(), self.tcp_rotation()
        for k in range(self.config.gripper_steps):
            self.native_step(self._pose_command(*self._errors(position, rotation), command))
            now = self.finger_qpos()
            if k >= 2 and np.max(np.abs(now - last)) < 2e-4:
                return True
            last = now
        return False

    def _achieved(self, p0: np.ndarray, r0: np.ndarray, open0: float, delta: np.ndarray) -> np.ndarray:
        """The measured 8-D change; a turn about the tool axis is reported in dim 6 when one was commanded."""
        out = np.zeros(8)
        out[:3] = self.tcp_position() - p0
        turn = matrix_to_rotvec(self.tcp_rotation() @ r0.T)
        if delta[6] != 0:
            tool_axis = r0[:, 2]
            out[6] = float(turn @ tool_axis)
            turn = turn - out[6] * tool_axis
        out[3:6] = turn
        out[7] = self.gripper_opening() - open0
        return out
