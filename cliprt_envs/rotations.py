"""Rotation helpers in numpy (no simulator), shared by the robots: rotation vectors (axis * angle), matrices, quaternions."""

from __future__ import annotations

import numpy as np


def rotvec_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues: the 3x3 rotation of a rotation vector (axis * angle, radians)."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = float(np.linalg.norm(rotvec))
    if angle < 1e-12:
        return np.eye(3)
    x, y, z = rotvec / angle
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)


def matrix_to_rotvec(matrix: np.ndarray) -> np.ndarray:
    """The rotation vector of a 3x3 rotation (the inverse of :func:`rotvec_to_matrix`)."""
    r = np.asarray(matrix, dtype=np.float64)
    angle = float(np.arccos(np.clip((np.trace(r) - 1.0) / 2.0, -1.0, 1.0)))
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    norm = float(np.linalg.norm(axis))
    if norm > 1e-9:
        return axis / norm * angle
    if angle < 1e-6:
        return np.zeros(3)
    sym = (r + np.eye(3)) / 2.0  # 180 degrees: the axis from the symmetric part
    k = int(np.argmax(np.diag(sym)))
    return sym[:, k] / np.sqrt(max(sym[k, k], 1e-12)) * angle


def matrix_to_quat_wxyz(matrix: np.ndarray) -> np.ndarray:
    """Unit quaternion ``(w, x, y, z)`` with ``w >= 0`` of a 3x3 rotation."""
    rotvec = matrix_to_rotvec(matrix)
    angle = float(np.linalg.norm(rotvec))
    if angle < 1e-12:
        return np.array([1.0, 0.0, 0.0, 0.0])
    quat = np.concatenate([[np.cos(angle / 2.0)], np.sin(angle / 2.0) * rotvec / angle])
    return quat if quat[0] >= 0 else -quat


def quat_wxyz_to_matrix(quat: np.ndarray) -> np.ndarray:
    """The 3x3 rotation of a wxyz quaternion (the same for q and -q; need not be normalised)."""
    w, x, y, z = np.asarray(quat, dtype=np.float64) / (np.linalg.norm(quat) or 1.0)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def rotation_about(axis: int, angle: float) -> np.ndarray:
    """Rotation by ``angle`` about the unit axis ``axis`` (0 x, 1 y, 2 z)."""
    vec = np.zeros(3)
    vec[axis] = angle
    return rotvec_to_matrix(vec)
