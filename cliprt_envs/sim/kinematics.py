"""Inverse kinematics for the twin: damped least squares on MuJoCo's site Jacobian.

Works on a scratch ``MjData`` so that planning never disturbs the simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np


def rotation_error(current: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Axis-angle vector (world frame) that rotates ``current`` onto ``target`` (3x3 each)."""
    r = target @ current.T
    angle_cos = np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0)
    angle = np.arccos(angle_cos)
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    s = np.linalg.norm(axis)
    if s < 1e-9:
        if angle < 1e-6:
            return np.zeros(3)
        # 180 degrees: take the axis from the symmetric part.
        m = (r + np.eye(3)) / 2.0
        k = int(np.argmax(np.diag(m)))
        axis = m[:, k] / np.sqrt(max(m[k, k], 1e-12))
        return axis * angle
    return axis / s * angle


def rotation_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' rotation about a unit ``axis``."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


@dataclass(frozen=True)
class IKConfig:
    damping: float = 1e-3
    max_iterations: int = 60
    position_tolerance: float = 1e-4
    rotation_tolerance: float = 1e-3
    max_joint_step: float = 0.25


@dataclass
class IKResult:
    qpos: np.ndarray
    success: bool
    position_error: float
    rotation_error: float
    joint_limited: bool


class ArmKinematics:
    """Forward and inverse kinematics of the arm joints for one site."""

    def __init__(self, model: mujoco.MjModel, joint_names: tuple[str, ...], site: str, config: IKConfig | None = None) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self.config = config or IKConfig()
        self.site_id = model.site(site).id
        self.qadr = np.array([model.joint(n).qposadr[0] for n in joint_names])
        self.dofadr = np.array([model.joint(n).dofadr[0] for n in joint_names])
        self.lower = np.array([model.joint(n).range[0] for n in joint_names])
        self.upper = np.array([model.joint(n).range[1] for n in joint_names])
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Site position (3,) and rotation matrix (3, 3) for arm joints ``q``."""
        self.data.qpos[self.qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.site_id].copy(), self.data.site_xmat[self.site_id].reshape(3, 3).copy()

    def solve(self, q0: np.ndarray, target_pos: np.ndarray, target_rot: np.ndarray, coarse: bool = False) -> IKResult:
        """Joints that put the site at ``target_pos``/``target_rot``, starting from ``q0``.

        ``coarse`` loosens the tolerances tenfold, for intermediate waypoints of
        a path whose end is solved exactly.
        """
        cfg = self.config
        scale = 10.0 if coarse else 1.0
        pos_tol, rot_tol = cfg.position_tolerance * scale, cfg.rotation_tolerance * scale
        q = np.array(q0, dtype=np.float64)
        limited = False
        perr = rerr = np.inf
        for _ in range(cfg.max_iterations):
            self.data.qpos[self.qadr] = q
            mujoco.mj_kinematics(self.model, self.data)
            mujoco.mj_comPos(self.model, self.data)
            pos = self.data.site_xpos[self.site_id]
            rot = self.data.site_xmat[self.site_id].reshape(3, 3)
            e_pos = target_pos - pos
            e_rot = rotation_error(rot, target_rot)
            perr, rerr = float(np.linalg.norm(e_pos)), float(np.linalg.norm(e_rot))
            if perr < pos_tol and rerr < rot_tol:
                break
            mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.site_id)
            jac = np.vstack([self._jacp[:, self.dofadr], self._jacr[:, self.dofadr]])
            err = np.concatenate([e_pos, e_rot])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + cfg.damping * np.eye(6), err)
            step = np.max(np.abs(dq))
            if step > cfg.max_joint_step:
                dq *= cfg.max_joint_step / step
            q = q + dq
            clipped = np.clip(q, self.lower, self.upper)
            limited |= bool(np.any(clipped != q))
            q = clipped
        success = perr < pos_tol * 20 and rerr < rot_tol * 20
        return IKResult(q, success, perr, rerr, limited)
