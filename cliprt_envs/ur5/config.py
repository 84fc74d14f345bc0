"""The robot config: frozen dataclasses, loaded from a YAML or TOML file.

Every default is declared here once. Units are in the field names' docs:
metres, seconds, m/s, rad/s; angles a person types (home joints, the frame's
yaw) are in degrees. ``cliprt_envs/ur5/example_robot.yaml`` is a complete,
commented example to copy.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_envs.protocols import Workspace

__all__ = [
    "EXAMPLE_CONFIG",
    "CameraConfig",
    "FrameConfig",
    "GripperConfig",
    "MotionLimits",
    "RobotConfig",
    "ServoConfig",
    "load_robot_config",
    "robot_config",
]

#: The commented example config shipped with the package.
EXAMPLE_CONFIG = Path(__file__).with_name("example_robot.yaml")
MOTION_MODES = ("moveL", "servoL")
GRIPPER_KINDS = ("robotiq", "digital", "none")
AXES = ("x", "y", "z", "-x", "-y", "-z")
HOW_TO_WRITE = (
    f"copy {EXAMPLE_CONFIG} to robot.yaml, set host, home_joints_deg, workspace and camera.serial "
    "(`cliprt doctor --ur5 HOST` lists what it finds), then gym.make('CLIPRT-UR5-v0', config='robot.yaml')"
)


@dataclass(frozen=True)
class MotionLimits:
    """Speed limits of every move; ``speed_scale`` (0..1] slows everything down (first runs)."""

    max_linear_speed: float = 0.10  # m/s of the tool-centre point
    max_linear_acceleration: float = 0.5  # m/s^2
    max_angular_speed: float = 0.5  # rad/s of the tool
    max_angular_acceleration: float = 1.0  # rad/s^2
    home_joint_speed: float = 0.3  # rad/s of the leading joint, for reset() and undo
    home_joint_acceleration: float = 0.5  # rad/s^2
    speed_scale: float = 1.0
    move_timeout_margin_s: float = 2.0  # a move taking this much longer than planned is stopped

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if not getattr(self, f.name) > 0:
                raise ValueError(f"limits.{f.name} must be > 0, got {getattr(self, f.name)!r}")
        if self.speed_scale > 1:
            raise ValueError(f"limits.speed_scale is at most 1 (a fraction of the limits), got {self.speed_scale}")
        if self.max_linear_speed > 0.5:
            raise ValueError(f"limits.max_linear_speed {self.max_linear_speed} m/s is above 0.5 m/s; the env refuses it")

    @property
    def linear_speed(self) -> float:
        return self.max_linear_speed * self.speed_scale

    @property
    def angular_speed(self) -> float:
        return self.max_angular_speed * self.speed_scale

    @property
    def joint_speed(self) -> float:
        return self.home_joint_speed * self.speed_scale


@dataclass(frozen=True)
class ServoConfig:
    """``servoL`` streaming (``motion_mode: servoL``): period, look-ahead and gain as in URScript."""

    period_s: float = 0.008  # 125 Hz (CB3); 0.002 on an e-Series
    lookahead_s: float = 0.1
    gain: float = 300.0


@dataclass(frozen=True)
class CameraConfig:
    """One RealSense colour stream, cropped then resized to the observation size."""

    serial: str = ""  # "" takes the only connected camera (refused if there are several)
    width: int = 640
    height: int = 480
    fps: int = 30
    crop: tuple[int, int, int, int] | None = None  # (top, left, height, width) in the stream's pixels
    resize: tuple[int, int] = (224, 224)  # (height, width) of obs["image"]
    depth: bool = False  # also stream depth (kept as camera.last_depth, not in the observation)
    align_depth: bool = False  # align depth to colour
    timeout_s: float = 1.0  # no fresh frame within this ends the episode ("camera timeout")
    flush_frames: int = 1  # fresh frames skipped per read, so the image is exposed after the arm stopped

    def __post_init__(self) -> None:
        if min(self.width, self.height, self.fps, *self.resize) <= 0 or self.timeout_s <= 0:
            raise ValueError(f"camera width, height, fps, resize and timeout_s must be > 0, got {self}")
        if self.crop is not None:
            top, left, h, w = self.crop
            if top < 0 or left < 0 or h <= 0 or w <= 0 or top + h > self.height or left + w > self.width:
                raise ValueError(f"camera.crop {self.crop} (top, left, height, width) is outside {self.height}x{self.width}")
        if self.flush_frames < 0:
            raise ValueError(f"camera.flush_frames is 0 or more, got {self.flush_frames}")
        if self.align_depth and not self.depth:
            raise ValueError("camera.align_depth needs camera.depth: true")


@dataclass(frozen=True)
class GripperConfig:
    """A Robotiq 2F-85 over the URCap socket, a gripper on a digital output, or none."""

    kind: str = "robotiq"
    port: int = 63352  # the Robotiq URCap's socket on the robot
    speed: int = 255  # 0..255
    force: int = 100  # 0..255
    timeout_s: float = 4.0  # activation or one open/close taking longer is a gripper fault
    digital_output: int = 0  # kind "digital": the output pin
    tool_output: bool = True  # kind "digital": a tool output (else a standard one)
    close_level: bool = True  # kind "digital": the level that closes

    def __post_init__(self) -> None:
        if self.kind not in GRIPPER_KINDS:
            raise ValueError(f"gripper.kind must be one of {GRIPPER_KINDS}, got {self.kind!r}")
        if not (0 <= self.speed <= 255 and 0 <= self.force <= 255):
            raise ValueError(f"gripper.speed and gripper.force are 0..255, got {self.speed}, {self.force}")
        if not 0 < self.port < 65536 or self.timeout_s <= 0:
            raise ValueError(f"gripper.port is 1..65535 and gripper.timeout_s > 0, got {self.port}, {self.timeout_s}")


@dataclass(frozen=True)
class FrameConfig:
    """Which robot-base axis each vocabulary axis is (vocabulary: x away from the base, y left, z up).

    E.g. ``x: -y`` says "move forward" is the base frame's -y. The mapping must
    be a proper rotation (right-handed); ``yaw_deg`` turns it further about z.
    """

    x: str = "x"
    y: str = "y"
    z: str = "z"
    yaw_deg: float = 0.0

    def __post_init__(self) -> None:
        for axis in (self.x, self.y, self.z):
            if axis not in AXES:
                raise ValueError(f"frame axes are one of {AXES}, got {axis!r}")
        if abs(np.linalg.det(self.robot_from_vocabulary()) - 1.0) > 1e-9:
            raise ValueError(f"frame x={self.x}, y={self.y}, z={self.z} is not a right-handed rotation; flip one axis")

    def robot_from_vocabulary(self) -> np.ndarray:
        """3x3 matrix taking a vocabulary-frame vector to the robot base frame."""
        columns = []
        for axis in (self.x, self.y, self.z):
            v = np.zeros(3)
            v["xyz".index(axis[-1])] = -1.0 if axis.startswith("-") else 1.0
            columns.append(v)
        c, s = math.cos(math.radians(self.yaw_deg)), math.sin(math.radians(self.yaw_deg))
        yaw = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return yaw @ np.stack(columns, axis=1)


@dataclass(frozen=True)
class RobotConfig:
    """Everything the real-UR5 env needs to know about one robot cell."""

    host: str
    home_joints_deg: tuple[float, float, float, float, float, float]
    workspace: Workspace  # the tool-centre point's box, metres, vocabulary frame
    tcp_offset: tuple[float, float, float, float, float, float] = (0.0, 0.0, 0.15, 0.0, 0.0, 0.0)  # m, rotvec
    payload_kg: float = 0.9  # a Robotiq 2F-85 and its coupling
    payload_cog: tuple[float, float, float] = (0.0, 0.0, 0.06)
    limits: MotionLimits = MotionLimits()
    motion_mode: str = "moveL"
    servo: ServoConfig = ServoConfig()
    camera: CameraConfig = CameraConfig()
    wrist_camera: CameraConfig | None = None
    gripper: GripperConfig = GripperConfig()
    frame: FrameConfig = FrameConfig()
    instruction: str = ""  # used when reset() gets no options["instruction"]
    task_name: str = "UR5"
    rtde_frequency: float = -1.0  # -1: the controller's default (125 Hz CB3, 500 Hz e-Series)
    connect_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.host or not isinstance(self.host, str):
            raise ValueError(f"host must be the robot's IP address or name, got {self.host!r}")
        if len(self.home_joints_deg) != 6 or len(self.tcp_offset) != 6 or len(self.payload_cog) != 3:
            raise ValueError("home_joints_deg and tcp_offset have 6 numbers each, payload_cog 3")
        if not 0 <= self.payload_kg <= 5:
            raise ValueError(f"payload_kg is 0..5 (a UR5's payload), got {self.payload_kg}")
        if self.motion_mode not in MOTION_MODES:
            raise ValueError(f"motion_mode must be one of {MOTION_MODES}, got {self.motion_mode!r}")
        if self.connect_timeout_s <= 0:
            raise ValueError(f"connect_timeout_s must be > 0, got {self.connect_timeout_s}")

    @property
    def home_joints(self) -> np.ndarray:
        return np.radians(np.asarray(self.home_joints_deg, dtype=np.float64))

    def with_speed_scale(self, scale: float) -> RobotConfig:
        """The same config with every speed scaled by ``scale`` (a first run at reduced speed)."""
        return dataclasses.replace(self, limits=dataclasses.replace(self.limits, speed_scale=float(scale)))


def _convert(hint: Any, value: Any, where: str) -> Any:
    """``value`` (from YAML/TOML) as the type ``hint`` names; dataclasses from mappings."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if value is None else _convert(options[0], value, where)
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        return _dataclass_from(hint, value, where)
    if origin is tuple:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
            raise ValueError(f"{where} is a list of numbers, got {value!r}")
        kinds = typing.get_args(hint)
        return tuple(int(v) if kinds and kinds[0] is int else float(v) for v in value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def _dataclass_from(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where or 'the config'} must be a mapping of keys to values, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in {where or 'the config'}; the keys are {', '.join(names)}")
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    missing = [name for name in required if name not in data]
    if missing:
        example = " (workspace: {low: [x, y, z], high: [x, y, z]}, metres)" if where == "workspace" else ""
        raise ValueError(f"{where or 'the config'} needs {', '.join(missing)}{example}")
    values = {k: _convert(hints[k], v, f"{where}.{k}".lstrip(".")) for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ValueError(f"{where or 'the config'}: {exc}") from None


def robot_config(data: dict[str, Any]) -> RobotConfig:
    """A :class:`RobotConfig` from a mapping (as loaded from YAML/TOML); ``workspace`` is ``{low, high}``."""
    if not isinstance(data, dict) or not {"host", "home_joints_deg", "workspace"} <= set(data):
        raise ValueError(f"a robot config needs host, home_joints_deg and workspace; {HOW_TO_WRITE}")
    return _dataclass_from(RobotConfig, data, "")


def load_robot_config(path: str | Path) -> RobotConfig:
    """Read a robot config from a ``.yaml``/``.yml`` or ``.toml`` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no robot config at {path}; {HOW_TO_WRITE}")
    text = path.read_text()
    if path.suffix == ".toml":
        import tomllib

        data = tomllib.loads(text)
    elif path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            from cliprt_envs.errors import MissingExtraError

            raise MissingExtraError("reading a YAML robot config needs PyYAML: pip install pyyaml (or write TOML)") from None
        data = yaml.safe_load(text)
    else:
        raise ValueError(f"a robot config is a .yaml, .yml or .toml file, got {path.name}")
    try:
        return robot_config(data or {})
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
