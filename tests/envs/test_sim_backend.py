"""The twin's backend and cameras as context managers, its scene signature, and the people's render view."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import cliprt_envs  # noqa: F401  (registers the ids)
from cliprt_envs.protocols import Camera, RobotBackend
from cliprt_envs.registry import SIM_TASKS

pytest.importorskip("mujoco")
import mujoco

from cliprt_envs.sim.backend import MujocoUR5Backend
from cliprt_envs.sim.camera import MujocoCamera
from cliprt_envs.sim.make import load_task

pytestmark = pytest.mark.sim

SMALL = 64
PICK = SIM_TASKS[0].env_id


def test_backend_and_camera_are_context_managers_that_close():
    task = load_task("Pick", (SMALL, SMALL))
    with MujocoUR5Backend(task.scene()) as backend:
        assert isinstance(backend, RobotBackend)
        with MujocoCamera(backend.model, backend.data, "front", SMALL, SMALL) as camera:
            assert isinstance(camera, Camera)
            assert camera.read().shape == (SMALL, SMALL, 3)
            assert camera._renderer is not None
        assert camera._renderer is None  # closed on leaving the block
    camera = MujocoCamera(backend.model, backend.data, "front", SMALL, SMALL)
    with pytest.raises(RuntimeError, match="inside"), camera:
        camera.read()
        raise RuntimeError("inside")
    assert camera._renderer is None  # closed on an exception too


@pytest.mark.parametrize("entry", SIM_TASKS, ids=[e.name for e in SIM_TASKS])
def test_scene_signature_is_hashable_and_follows_the_objects(entry):
    env = gym.make(entry.env_id, image_size=SMALL)
    try:
        env.reset(seed=0)
        backend = env.unwrapped.backend
        first = backend.scene_signature()
        assert isinstance(first, tuple) and hash(first) == hash(backend.scene_signature())
        assert len(first) >= 3 * len(env.unwrapped.task.items)
        env.step("move the arm to the left by 1 centimeter")  # touches nothing
        np.testing.assert_allclose(backend.scene_signature(), first, atol=2e-3)
        env.reset(seed=1)
        assert not np.allclose(backend.scene_signature(), first, atol=1e-2)  # a new layout
    finally:
        env.close()


def test_scene_signature_sees_a_moved_object_and_not_the_arm():
    env = gym.make(PICK, image_size=SMALL)
    try:
        env.reset(seed=0)
        backend = env.unwrapped.backend
        before = np.array(backend.scene_signature())
        tcp = backend.tcp_pose()[0]
        assert backend.move_tcp_to(tcp + np.array([0.0, 0.05, 0.05]))  # the arm moves, the objects stay
        assert not np.allclose(backend.tcp_pose()[0], tcp)
        np.testing.assert_array_equal(np.array(backend.scene_signature()), before)
        name = env.unwrapped.task.items[0].obj.name
        backend.set_object_pose(name, backend.object_position(name) + np.array([0.05, 0.0, 0.0]))
        after = np.array(backend.scene_signature())
        assert np.count_nonzero(np.abs(after - before) > 1e-9) == 1
        assert np.isclose(np.abs(after - before).max(), 0.05)
    finally:
        env.close()


@pytest.mark.parametrize("entry", SIM_TASKS, ids=[e.name for e in SIM_TASKS])
def test_moved_bodies_names_the_task_target_once_it_moves(entry):
    from mujoco import mjtJoint

    env = gym.make(entry.env_id, image_size=SMALL)
    try:
        env.reset(seed=0)
        backend, task = env.unwrapped.backend, env.unwrapped.task
        start = backend.scene_signature()
        env.step("move the arm to the left by 1 centimeter")  # touches nothing
        assert backend.moved_bodies(start) == ()
        target = task.target_body()
        body = backend.model.body(target)
        assert body.jntnum[0] >= 1, f"{target} has no joint, so moving it could not be seen"
        joint = int(body.jntadr[0])
        adr, kind = int(backend.model.jnt_qposadr[joint]), int(backend.model.jnt_type[joint])
        free, hinge = kind == int(mjtJoint.mjJNT_FREE), kind == int(mjtJoint.mjJNT_HINGE)
        backend.data.qpos[adr] += 0.01 if free else 0.05  # below 2 cm / 10 degrees (a slide: 1 cm, above)
        assert backend.moved_bodies(start) == (() if free or hinge else (target,))
        backend.data.qpos[adr] += 0.03 if free else 0.3
        assert backend.moved_bodies(start) == (target,)
        with pytest.raises(ValueError, match="signature"):
            backend.moved_bodies(start[:-1])
    finally:
        env.close()


def test_render_size_gives_a_separate_larger_view():
    env = gym.make(PICK, image_size=SMALL, render_mode="rgb_array", render_size=96, render_camera="side")
    try:
        obs, _ = env.reset(seed=0)
        frame = env.render()
        assert obs["image"].shape == (SMALL, SMALL, 3)
        assert frame.shape == (96, 96, 3) and frame.dtype == np.uint8
        assert frame.std() > 5
        env.step("move the arm to the left by 5 centimeters")
        assert np.abs(env.render().astype(int) - frame).mean() > 0.5  # fresh, not a cached frame
    finally:
        env.close()
    env = gym.make(PICK, image_size=SMALL, render_mode="rgb_array", render_size=80)
    try:
        obs, _ = env.reset(seed=0)
        assert env.unwrapped.render_camera.name == "front"  # the default view
        assert env.render().shape == (80, 80, 3)
    finally:
        env.close()
    env = gym.make(PICK, image_size=SMALL, render_mode="rgb_array")
    try:
        obs, _ = env.reset(seed=0)
        np.testing.assert_array_equal(env.render(), obs["image"])  # without render_size: the observation, as before
    finally:
        env.close()


def test_the_view_for_people_renders_without_anti_aliasing_and_leaves_the_agent_its_own():
    """The people's camera drops MSAA (cheaper videos); observations are the pixels an env without it gives."""
    from cliprt_envs.sim.make import PEOPLE_VIEW_MULTISAMPLES

    filmed = gym.make(PICK, image_size=SMALL, render_mode="rgb_array", render_size=96, render_camera="front")
    plain = gym.make(PICK, image_size=SMALL)
    try:
        model = filmed.unwrapped.backend.model
        samples = model.vis.quality.offsamples
        assert samples > 0 and PEOPLE_VIEW_MULTISAMPLES == 0
        assert filmed.unwrapped.render_camera.multisamples == 0 and filmed.unwrapped.camera.multisamples is None
        obs, _ = filmed.reset(seed=0)
        frame = filmed.render()
        np.testing.assert_array_equal(obs["image"], plain.reset(seed=0)[0]["image"])
        assert model.vis.quality.offsamples == samples  # the model is left as it was
        # the same view with the scene's MSAA differs only at edges: same picture, softer edges
        smooth = MujocoCamera(model, filmed.unwrapped.backend.data, "front", 96, 96)
        try:
            soft = smooth.read().astype(int)
        finally:
            smooth.close()
        diff = np.abs(soft - frame).max(axis=2)
        assert 0 < np.count_nonzero(diff > 8) < 0.2 * diff.size
        step = "move the arm to the left by 5 centimeters"
        np.testing.assert_array_equal(filmed.step(step)[0]["image"], plain.step(step)[0]["image"])
    finally:
        filmed.close()
        plain.close()
    with pytest.raises(ValueError, match="multisamples must be an int >= 0"):
        MujocoCamera(model, filmed.unwrapped.backend.data, "front", 96, 96, multisamples=-1)


@pytest.mark.parametrize("entry", SIM_TASKS, ids=[e.name for e in SIM_TASKS])
def test_the_front_camera_sees_every_task_target_and_nothing_behind_it(entry):
    env = gym.make(entry.env_id, image_size=SMALL)
    try:
        for seed in range(3):
            env.reset(seed=seed)
            camera, backend = env.unwrapped.camera, env.unwrapped.backend
            target = backend.object_position(env.unwrapped.task.target_body())
            assert camera.sees(target), f"{entry.name}, seed {seed}: the front camera should see {target} on the table"
            position, rotation = backend.data.cam_xpos[camera.camera_id], backend.data.cam_xmat[camera.camera_id].reshape(3, 3)
            assert not camera.sees(position + rotation[:, 2])  # 1 m behind the camera (it looks along its -z)
            assert not camera.sees(target + np.array([0.0, 3.0, 0.0]))  # 3 m off to the side
    finally:
        env.close()


def test_a_camera_sees_what_its_field_of_view_and_image_shape_allow():
    task = load_task("Pick", (SMALL, SMALL))
    with MujocoUR5Backend(task.scene()) as backend:
        mujoco.mj_kinematics(backend.model, backend.data)
        square = MujocoCamera(backend.model, backend.data, "wrist", SMALL, SMALL)
        wide = MujocoCamera(backend.model, backend.data, "wrist", SMALL, 2 * SMALL)
        cam = square.camera_id
        position, rotation = backend.data.cam_xpos[cam], backend.data.cam_xmat[cam].reshape(3, 3)
        half = np.tan(np.radians(backend.model.cam_fovy[cam]) / 2)

        def ahead(x: float, y: float) -> np.ndarray:  # 1 m in front of the camera, x right and y up in its image
            return position + rotation @ np.array([x, y, -1.0])

        assert square.sees(ahead(0.0, 0.0)) and square.sees(ahead(0.9 * half, 0.9 * half))
        assert not square.sees(ahead(0.0, 1.1 * half)) and not square.sees(ahead(1.1 * half, 0.0))
        assert wide.sees(ahead(1.9 * half, 0.0)) and not wide.sees(ahead(2.1 * half, 0.0))  # twice as wide as high
        assert not wide.sees(ahead(0.0, 1.1 * half))
