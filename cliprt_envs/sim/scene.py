"""MJCF for the UR5 twin: a UR5 with the real link lengths, a parallel gripper,
a table, task objects and cameras, generated from a small scene description.

Kinematics follow Universal Robots' published UR5 parameters (d1 0.089159,
a2 0.425, a3 0.39225, d4 0.10915, d5 0.09465, d6 0.0823, shoulder and elbow
offsets 0.13585 / 0.1197). Joint limits are the UR5's +-360 deg, except the
elbow, which we keep at +-180 deg as UR's own software does to avoid folding
the arm through itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Smallest and largest image side, in pixels. Larger frames take seconds each
#: to render in software (llvmpipe) and fill memory fast (1024x1024 RGB is 3 MB
#: per observation); videos for people are better made from smaller frames.
MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 1024

TABLE_TOP_Z = 0.0
#: Where spare clutter objects wait when not on the table: far below the room's floor (cliprt_envs.sim.clutter).
CLUTTER_PARK_Z = -4.0
TCP_OFFSET = 0.15  # tool-centre point, metres from the flange along the tool axis
FINGER_MAX_OPENING = 0.042  # per finger, metres
UR5_JOINTS = (
    "shoulder_pan",
    "shoulder_lift",
    "elbow",
    "wrist_1",
    "wrist_2",
    "wrist_3",
)
TWO_PI = 6.283185307179586
#: Tool pointing down, fingers closing along the world y axis.
HOME_ROTATION = np.array([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
HOME_POSITION = np.array([0.45, 0.0, 0.25])


@dataclass(frozen=True)
class SceneObject:
    """A free rigid object on the table."""

    name: str
    shape: str  # "box" | "cylinder" | "sphere"
    size: tuple[float, ...]  # MuJoCo half-sizes: box (x, y, z), cylinder (r, h/2), sphere (r,)
    rgba: tuple[float, float, float, float]
    mass: float = 0.08
    friction: float = 1.0

    @property
    def half_height(self) -> float:
        if self.shape == "box":
            return self.size[2]
        if self.shape == "cylinder":
            return self.size[1]
        return self.size[0]


@dataclass(frozen=True)
class SceneFixture:
    """A static marker or container (a plate, a goal pad): never collides unless asked."""

    name: str
    shape: str
    size: tuple[float, ...]
    rgba: tuple[float, float, float, float]
    collide: bool = False


@dataclass(frozen=True)
class DrawerSpec:
    """A cabinet with one drawer that slides out along the cabinet's -x axis.

    At ``pos`` with no turn the drawer opens toward the robot. The cabinet is
    a mocap body, so a task can move and turn it each episode with
    ``backend.set_object_pose(f"{name}_cabinet", position, quat)``. Names in the model:
    body ``{name}_cabinet``, body ``{name}`` (the drawer), joint
    ``{name}_slide`` (0 closed .. ``travel`` open) and site ``{name}_handle``
    (the middle of the handle bar). The bar stands ``handle_gap`` in front of
    the drawer front, wide enough for the closed fingers to hook behind it.
    """

    rgba: tuple[float, float, float, float] = (0.55, 0.4, 0.25, 1.0)
    handle_rgba: tuple[float, float, float, float] = (0.8, 0.8, 0.85, 1.0)
    travel: float = 0.16
    name: str = "drawer"
    pos: tuple[float, float, float] = (0.68, 0.0, 0.0)
    handle_gap: float = 0.045


@dataclass(frozen=True)
class HingedLidSpec:
    """A fixed base with a lid on a hinge along the base's back top edge (a toy laptop, a box).

    The base is a mocap body ``{name}_base`` (place and turn it with
    ``backend.set_object_pose``); at no turn its back edge faces +x, so the
    lid's free edge rises toward -x. Names in the model: body ``{name}_lid``,
    hinge joint ``{name}_hinge`` (0 closed, lying on the base, ..
    ``max_angle`` radians open), site ``{name}_hinge_axis`` (the middle of the
    hinge) and site ``{name}_edge`` (the middle of the lid's free edge, on
    its outer face). ``base_size`` are half-sizes; the lid covers the base.
    ``lid_face_rgba`` / ``base_face_rgba`` (optional) draw a screen on the
    lid's inner face and a keyboard on the base's top (visual only). The lid
    stays where it is put (a stiff ``frictionloss``: it creeps less than a
    hundredth of a degree a step under its weight) until something pushes it.
    """

    name: str = "laptop"
    rgba: tuple[float, float, float, float] = (0.6, 0.6, 0.62, 1.0)
    base_size: tuple[float, float, float] = (0.065, 0.085, 0.008)
    lid_half_thickness: float = 0.004
    lid_mass: float = 0.08
    max_angle: float = 2.0
    damping: float = 0.3
    frictionloss: float = 0.12
    lid_face_rgba: tuple[float, float, float, float] | None = None
    base_face_rgba: tuple[float, float, float, float] | None = None
    pos: tuple[float, float, float] = (0.55, 0.0, 0.0)


@dataclass(frozen=True)
class ObjectPart:
    """One more geom fixed to a :class:`CompoundObject`, at ``pos`` in the object's frame."""

    shape: str
    size: tuple[float, ...]
    pos: tuple[float, float, float]
    rgba: tuple[float, float, float, float]
    collide: bool = True
    mass: float = 0.005
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)  # w x y z, in the object's frame


@dataclass(frozen=True)
class CompoundObject(SceneObject):
    """A free object of several geoms (a stamp with a handle, a toy car with wheels).

    The :class:`SceneObject` fields describe the main geom, which sits at the
    body's origin: tasks read the object's size, bottom and extent from it
    alone, so parts should not reach below it. ``parts`` are fixed to it.
    """

    parts: tuple[ObjectPart, ...] = ()


@dataclass(frozen=True)
class SceneSpec:
    objects: tuple[SceneObject, ...] = ()
    fixtures: tuple[SceneFixture, ...] = ()
    drawer: DrawerSpec | None = None
    drawers: tuple[DrawerSpec, ...] = ()  # more cabinets (each needs its own name)
    lids: tuple[HingedLidSpec, ...] = ()  # hinged lids (laptops, boxes), distinct names
    #: spare objects (cliprt_envs.sim.clutter), built parked far below the room, weightless, for resets to scatter
    clutter: tuple[SceneObject, ...] = ()
    timestep: float = 0.002
    image_size: tuple[int, int] = (224, 224)
    extra: dict = field(default_factory=dict)


FRONT_CAMERA_POS = (1.2, 0.0, 0.75)
SIDE_CAMERA_POS = (0.55, -0.85, 0.6)
CAMERA_TARGET = (0.5, 0.0, 0.0)


def _lookat(eye, target) -> tuple[float, ...]:
    """MuJoCo ``xyaxes`` for a camera at ``eye`` looking at ``target`` with z up."""
    forward = np.subtract(target, eye, dtype=float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return (*right, *up)


def _fmt(values) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def _object_xml(obj: SceneObject, pos: str | None = None, gravcomp: float = 0.0) -> str:
    size = _fmt(obj.size)
    pos = pos or f"0.5 0 {TABLE_TOP_Z + obj.half_height + 0.001:.4f}"
    return f"""
    <body name="{obj.name}" pos="{pos}" gravcomp="{gravcomp:g}">
      <freejoint name="{obj.name}_joint"/>
      <geom name="{obj.name}_geom" type="{obj.shape}" size="{size}" rgba="{_fmt(obj.rgba)}"
            mass="{obj.mass}" friction="{obj.friction} 0.01 0.001" condim="4" priority="1"
            solref="0.004 1"/>
    </body>"""


def _fixture_xml(fix: SceneFixture) -> str:
    contype = 1 if fix.collide else 0
    return f"""
    <body name="{fix.name}" mocap="true" pos="0.5 0 {TABLE_TOP_Z + fix.size[-1]:.4f}">
      <geom name="{fix.name}_geom" type="{fix.shape}" size="{_fmt(fix.size)}" rgba="{_fmt(fix.rgba)}"
            contype="{contype}" conaffinity="{contype}"/>
    </body>"""


def _drawer_xml(spec: DrawerSpec) -> str:
    # Cabinet: a box open at the front (toward -x), on a mocap body so tasks can place it.
    c, h, n = _fmt(spec.rgba), _fmt(spec.handle_rgba), spec.name
    front = -0.101  # outer face of the drawer front, drawer frame
    bar_x = front - spec.handle_gap - 0.008
    arm_half = (spec.handle_gap + 0.008) / 2
    arm_x = front - arm_half
    return f"""
    <body name="{n}_cabinet" mocap="true" pos="{_fmt(spec.pos)}">
      <geom name="{n}_cab_bottom" type="box" size="0.1 0.13 0.01" pos="0 0 0.01" rgba="{c}"/>
      <geom name="{n}_cab_top" type="box" size="0.1 0.13 0.01" pos="0 0 0.13" rgba="{c}"/>
      <geom name="{n}_cab_left" type="box" size="0.1 0.01 0.06" pos="0 0.12 0.07" rgba="{c}"/>
      <geom name="{n}_cab_right" type="box" size="0.1 0.01 0.06" pos="0 -0.12 0.07" rgba="{c}"/>
      <geom name="{n}_cab_back" type="box" size="0.01 0.13 0.06" pos="0.09 0 0.07" rgba="{c}"/>
      <body name="{n}" pos="0 0 0.02">
        <joint name="{n}_slide" type="slide" axis="-1 0 0" range="0 {spec.travel}"
               damping="3" frictionloss="0.3" limited="true"/>
        <geom name="{n}_bottom" type="box" size="0.085 0.105 0.005" pos="0 0 0.005" rgba="{c}" mass="0.3"/>
        <geom name="{n}_front" type="box" size="0.008 0.11 0.045" pos="-0.093 0 0.045" rgba="{c}" mass="0.1"/>
        <geom name="{n}_back" type="box" size="0.005 0.105 0.035" pos="0.08 0 0.035" rgba="{c}" mass="0.05"/>
        <geom name="{n}_l" type="box" size="0.085 0.005 0.035" pos="0 0.1 0.035" rgba="{c}" mass="0.05"/>
        <geom name="{n}_r" type="box" size="0.085 0.005 0.035" pos="0 -0.1 0.035" rgba="{c}" mass="0.05"/>
        <geom name="{n}_handle_bar" type="box" size="0.008 0.045 0.008" pos="{bar_x:.4f} 0 0.06"
              rgba="{h}" mass="0.02" friction="1.5 0.01 0.001"/>
        <geom name="{n}_handle_l" type="box" size="{arm_half:.4f} 0.006 0.006" pos="{arm_x:.4f} 0.04 0.06"
              rgba="{h}" mass="0.01"/>
        <geom name="{n}_handle_r" type="box" size="{arm_half:.4f} 0.006 0.006" pos="{arm_x:.4f} -0.04 0.06"
              rgba="{h}" mass="0.01"/>
        <site name="{n}_handle" pos="{bar_x:.4f} 0 0.06" size="0.005"/>
      </body>
    </body>"""


def _compound_xml(obj: CompoundObject) -> str:
    """The main geom as for any object, then the parts (visual-only parts neither collide nor weigh much)."""
    parts = []
    for i, part in enumerate(obj.parts):
        collide = 'contype="1" conaffinity="1" condim="4" priority="1" solref="0.004 1"'
        if not part.collide:
            collide = 'contype="0" conaffinity="0"'
        parts.append(
            f"""
      <geom name="{obj.name}_part{i}" type="{part.shape}" size="{_fmt(part.size)}" pos="{_fmt(part.pos)}"
            quat="{_fmt(part.quat)}" rgba="{_fmt(part.rgba)}" mass="{part.mass}" friction="{obj.friction} 0.01 0.001"
            {collide}/>"""
        )
    head, tail = _object_xml(obj).rsplit("</body>", 1)
    return head.rstrip() + "".join(parts) + "\n    </body>" + tail


def _lid_xml(spec: HingedLidSpec) -> str:
    # The base does not collide with its own lid (contype 2 / 4 against conaffinity 1); both collide with the rest.
    n, c = spec.name, _fmt(spec.rgba)
    bx, by, bz = spec.base_size
    t = spec.lid_half_thickness
    faces = ""
    if spec.base_face_rgba is not None:
        faces += f"""
      <geom name="{n}_base_face" type="box" size="{bx * 0.8:.4f} {by * 0.85:.4f} 0.0005" pos="{-bx * 0.1:.4f} 0 {2 * bz:.4f}"
            rgba="{_fmt(spec.base_face_rgba)}" contype="0" conaffinity="0"/>"""
    screen = ""
    if spec.lid_face_rgba is not None:
        screen = f"""
        <geom name="{n}_lid_face" type="box" size="{bx * 0.85:.4f} {by * 0.85:.4f} 0.0005" pos="{-bx:.4f} 0 -0.0004"
              rgba="{_fmt(spec.lid_face_rgba)}" contype="0" conaffinity="0" mass="0.001"/>"""
    return f"""
    <body name="{n}_base" mocap="true" pos="{_fmt(spec.pos)}">
      <geom name="{n}_base_geom" type="box" size="{bx} {by} {bz}" pos="0 0 {bz}" rgba="{c}" contype="2" conaffinity="1"/>{faces}
      <body name="{n}_lid" pos="{bx} 0 {2 * bz}">
        <joint name="{n}_hinge" type="hinge" axis="0 1 0" range="0 {spec.max_angle}" limited="true"
               damping="{spec.damping}" frictionloss="{spec.frictionloss}" armature="0.002"
               solreffriction="0.004 1" solimpfriction="0.99 0.999 0.001"/>
        <geom name="{n}_lid_geom" type="box" size="{bx} {by} {t}" pos="{-bx} 0 {t}" rgba="{c}"
              mass="{spec.lid_mass}" contype="4" conaffinity="1" friction="1 0.01 0.001"/>{screen}
        <site name="{n}_hinge_axis" pos="0 0 0" size="0.004"/>
        <site name="{n}_edge" pos="{-2 * bx} 0 {2 * t}" size="0.004"/>
      </body>
    </body>"""


def build_mjcf(spec: SceneSpec) -> str:
    """The complete MJCF text for ``spec``."""
    drawers = ((spec.drawer,) if spec.drawer else ()) + tuple(spec.drawers)
    names = [d.name for d in drawers]
    if len(set(names)) != len(names):
        raise ValueError(f"drawers need distinct names, got {names}")
    lid_names = [lid.name for lid in spec.lids]
    if len(set(lid_names)) != len(lid_names):
        raise ValueError(f"hinged lids need distinct names, got {lid_names}")
    objects = "".join(_compound_xml(o) if isinstance(o, CompoundObject) else _object_xml(o) for o in spec.objects)
    objects += "".join(_object_xml(o, pos=f"{k} 0 {CLUTTER_PARK_Z}", gravcomp=1.0) for k, o in enumerate(spec.clutter))
    fixtures = "".join(_fixture_xml(f) for f in spec.fixtures)
    drawer = "".join(_drawer_xml(d) for d in drawers) + "".join(_lid_xml(lid) for lid in spec.lids)
    lim = f"{-TWO_PI:.6f} {TWO_PI:.6f}"
    # A drawer never touches its own cabinet (MuJoCo 3.3 does not filter this mocap parent-child pair by itself).
    excludes = "".join(f'\n    <exclude body1="{d.name}_cabinet" body2="{d.name}"/>' for d in drawers)
    return f"""{_header_xml(spec)}{_world_xml()}{_arm_xml(lim)}{objects}{fixtures}{drawer}
  </worldbody>
{_actuation_xml(lim, excludes)}"""


def _header_xml(spec: SceneSpec) -> str:
    """Compiler, options, rendering and defaults."""
    height, width = spec.image_size
    return f"""<mujoco model="cliprt_ur5_twin">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{spec.timestep}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <size memory="8M"/>
  <visual>
    <global offwidth="{max(width, 640)}" offheight="{max(height, 480)}"/>
    <quality shadowsize="0"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0.1 0.1 0.1"/>
  </visual>
  <default>
    <default class="arm">
      <joint damping="8" armature="0.1"/>
      <geom type="capsule" rgba="0.7 0.72 0.75 1" contype="0" conaffinity="0" mass="0"/>
      <position kp="4000" kv="300" forcerange="-150 150"/>
    </default>
    <default class="finger">
      <geom type="box" rgba="0.2 0.2 0.22 1" friction="1.5 0.02 0.002" condim="4" contype="1"
            conaffinity="1" solref="0.004 1" priority="2"/>
    </default>
  </default>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1="0.82 0.8 0.76" rgb2="0.78 0.76 0.72"
             width="256" height="256"/>
    <material name="table" texture="grid" texrepeat="8 8"/>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.42 0.36 0.3" rgb2="0.38 0.32 0.27"
             width="256" height="256"/>
    <material name="floor" texture="floor" texrepeat="12 12"/>
    <material name="wall" rgba="0.72 0.74 0.7 1"/>
    <material name="wall_side" rgba="0.66 0.7 0.76 1"/>
    <material name="ceiling" rgba="0.9 0.9 0.88 1"/>
  </asset>
"""


#: The room around the table (floor, four walls and a ceiling, visual only), so no camera looks into a void.
ROOM_FLOOR_Z = TABLE_TOP_Z - 0.75
ROOM_X = (-1.0, 2.4)
ROOM_Y = 1.8
ROOM_HEIGHT = 2.2


def _room_xml() -> str:
    """Floor, walls and ceiling: boxes that nothing collides with, far enough that no fixed camera sees past them."""
    cx, hx = (ROOM_X[0] + ROOM_X[1]) / 2, (ROOM_X[1] - ROOM_X[0]) / 2
    zc, hz = ROOM_FLOOR_Z + ROOM_HEIGHT / 2, ROOM_HEIGHT / 2
    nc = 'contype="0" conaffinity="0"'
    return f"""    <geom name="floor" type="plane" size="{hx} {ROOM_Y} 0.05" pos="{cx} 0 {ROOM_FLOOR_Z}" material="floor" {nc}/>
    <geom name="wall_back" type="box" size="0.02 {ROOM_Y} {hz}" pos="{ROOM_X[0]} 0 {zc}" material="wall" {nc}/>
    <geom name="wall_front" type="box" size="0.02 {ROOM_Y} {hz}" pos="{ROOM_X[1]} 0 {zc}" material="wall" {nc}/>
    <geom name="wall_left" type="box" size="{hx} 0.02 {hz}" pos="{cx} {ROOM_Y} {zc}" material="wall_side" {nc}/>
    <geom name="wall_right" type="box" size="{hx} 0.02 {hz}" pos="{cx} {-ROOM_Y} {zc}" material="wall_side" {nc}/>
    <geom name="ceiling" type="box" size="{hx} {ROOM_Y} 0.02" pos="{cx} 0 {ROOM_FLOOR_Z + ROOM_HEIGHT}" material="ceiling" {nc}/>
    <geom name="table_leg" type="box" size="0.5 0.5 0.36" pos="0.45 0 {TABLE_TOP_Z - 0.4}" rgba="0.45 0.4 0.35 1" {nc}/>
"""


def _world_xml() -> str:
    """The table, the light and the fixed cameras."""
    return f"""  <worldbody>
    <light pos="0.4 0 1.6" dir="0 0 -1" diffuse="0.6 0.6 0.6" castshadow="false"/>
    <geom name="table" type="box" size="0.6 0.6 0.02" pos="0.45 0 {TABLE_TOP_Z - 0.02}"
          material="table" friction="0.8 0.01 0.001"/>
{_room_xml()}
    <camera name="front" pos="{_fmt(FRONT_CAMERA_POS)}" xyaxes="{_fmt(_lookat(FRONT_CAMERA_POS, CAMERA_TARGET))}" fovy="50"/>
    <camera name="side" pos="{_fmt(SIDE_CAMERA_POS)}" xyaxes="{_fmt(_lookat(SIDE_CAMERA_POS, CAMERA_TARGET))}" fovy="50"/>
"""


def _arm_xml(lim: str) -> str:
    """The UR5 (real link lengths) with its parallel gripper, the wrist camera and the tool-centre site."""
    return f"""    <body name="base" pos="0 0 {TABLE_TOP_Z}">
      <geom type="cylinder" size="0.065 0.045" pos="0 0 0.045" rgba="0.3 0.3 0.32 1" contype="0" conaffinity="0"/>
      <body name="shoulder_link" pos="0 0 0.089159" gravcomp="1">
        <inertial pos="0 0 0" mass="3.7" diaginertia="0.0102675 0.0102675 0.00666"/>
        <joint name="shoulder_pan" class="arm" axis="0 0 1" range="{lim}"/>
        <geom class="arm" size="0.06 0.05" fromto="0 0 -0.03 0 0 0.05"/>
        <body name="upper_arm_link" pos="0 0.13585 0" gravcomp="1">
          <inertial pos="0 0 0.2125" mass="8.393" diaginertia="0.133886 0.133886 0.0151074"/>
          <joint name="shoulder_lift" class="arm" axis="0 1 0" range="{lim}"/>
          <geom class="arm" size="0.055" fromto="0 0 0 0 0 0.425"/>
          <body name="forearm_link" pos="0 -0.1197 0.425" gravcomp="1">
            <inertial pos="0 0 0.196125" mass="2.275" diaginertia="0.0311796 0.0311796 0.004095"/>
            <joint name="elbow" class="arm" axis="0 1 0" range="-3.141593 3.141593"/>
            <geom class="arm" size="0.045" fromto="0 0 0 0 0 0.39225"/>
            <body name="wrist_1_link" pos="0 0 0.39225" gravcomp="1">
              <inertial pos="0 0.093 0" mass="1.219" diaginertia="0.0025599 0.0025599 0.0021942"/>
              <joint name="wrist_1" class="arm" axis="0 1 0" range="{lim}"/>
              <geom class="arm" size="0.04" fromto="0 0 0 0 0.093 0"/>
              <body name="wrist_2_link" pos="0 0.093 0" gravcomp="1">
                <inertial pos="0 0 0.09465" mass="1.219" diaginertia="0.0025599 0.0025599 0.0021942"/>
                <joint name="wrist_2" class="arm" axis="0 0 1" range="{lim}"/>
                <geom class="arm" size="0.04" fromto="0 0 0 0 0 0.09465"/>
                <body name="wrist_3_link" pos="0 0 0.09465" gravcomp="1">
                  <inertial pos="0 0.065 0" mass="0.1879" diaginertia="0.000132 0.000132 0.0001836"/>
                  <joint name="wrist_3" class="arm" axis="0 1 0" range="{lim}"/>
                  <geom class="arm" size="0.04" fromto="0 0 0 0 0.0823 0"/>
                  <body name="gripper" pos="0 0.0823 0" quat="0.707107 -0.707107 0 0" gravcomp="1">
                    <inertial pos="0 0 0.05" mass="0.6" diaginertia="0.001 0.001 0.001"/>
                    <geom name="gripper_body" type="box" size="0.05 0.025 0.03" pos="0 0 0.03"
                          rgba="0.25 0.25 0.28 1" contype="1" conaffinity="1"/>
                    <camera name="wrist" pos="0 -0.05 0.065" xyaxes="1 0 0 0 -0.94 0.35" fovy="75"/>
                    <site name="tcp" pos="0 0 {TCP_OFFSET}" size="0.006" rgba="1 0 0 0.5" group="4"/>
                    <body name="left_finger" pos="0 0 0.06" gravcomp="1">
                      <inertial pos="0 0 0.045" mass="0.05" diaginertia="1e-5 1e-5 1e-5"/>
                      <joint name="left_finger" type="slide" axis="1 0 0" range="0 {FINGER_MAX_OPENING}"
                             damping="4" armature="0.01"/>
                      <geom class="finger" name="left_pad" size="0.006 0.012 0.04" pos="0.006 0 0.05"/>
                    </body>
                    <body name="right_finger" pos="0 0 0.06" gravcomp="1">
                      <inertial pos="0 0 0.045" mass="0.05" diaginertia="1e-5 1e-5 1e-5"/>
                      <joint name="right_finger" type="slide" axis="-1 0 0" range="0 {FINGER_MAX_OPENING}"
                             damping="4" armature="0.01"/>
                      <geom class="finger" name="right_pad" size="0.006 0.012 0.04" pos="-0.006 0 0.05"/>
                    </body>
                  </body>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>"""


def _actuation_xml(lim: str, excludes: str = "") -> str:
    """Contact exclusions (inside the gripper, plus ``excludes``) and the position servos."""
    return f"""  <contact>
    <exclude body1="left_finger" body2="right_finger"/>
    <exclude body1="gripper" body2="left_finger"/>
    <exclude body1="gripper" body2="right_finger"/>{excludes}
  </contact>
  <actuator>
    <position name="shoulder_pan" class="arm" joint="shoulder_pan" ctrlrange="{lim}"/>
    <position name="shoulder_lift" class="arm" joint="shoulder_lift" ctrlrange="{lim}"/>
    <position name="elbow" class="arm" joint="elbow" ctrlrange="-3.141593 3.141593"/>
    <position name="wrist_1" class="arm" joint="wrist_1" ctrlrange="{lim}" kp="1500" kv="80"/>
    <position name="wrist_2" class="arm" joint="wrist_2" ctrlrange="{lim}" kp="1500" kv="80"/>
    <position name="wrist_3" class="arm" joint="wrist_3" ctrlrange="{lim}" kp="1000" kv="50"/>
    <position name="left_finger" joint="left_finger" ctrlrange="0 {FINGER_MAX_OPENING}" kp="400" kv="8"
              forcerange="-25 25"/>
    <position name="right_finger" joint="right_finger" ctrlrange="0 {FINGER_MAX_OPENING}" kp="400" kv="8"
              forcerange="-25 25"/>
  </actuator>
</mujoco>
"""
