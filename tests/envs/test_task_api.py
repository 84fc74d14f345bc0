"""The robot-agnostic task abstraction and the registry that reads the tasks' own names and step limits."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import cliprt_envs
from cliprt_envs.language_env import LanguageMotionEnv
from cliprt_envs.motions import default_vocabulary
from cliprt_envs.protocols import BackendContext, ClosesOnExit, MoveResult, Workspace
from cliprt_envs.registry import ENV_ENTRIES, SIM_TASKS, EnvEntry, SimTaskEntry
from cliprt_envs.tasks import NoExpertError, Task


class _Reports(BackendContext):
    """A stand-in backend (no simulator): a point that moves exactly as told; a task only reads what it reports."""

    workspace = Workspace(low=(-1.0, -1.0, -1.0), high=(1.0, 1.0, 1.0))
    exact_state = True

    def __init__(self) -> None:
        self.position = np.zeros(3)
        self.connected = False

    def connect(self) -> None:
        self.connected = True

    def close(self) -> None:
        self.connected = False

    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        return self.position.copy(), np.array([1.0, 0.0, 0.0, 0.0])

    def gripper_opening(self) -> float:
        return 1.0

    def move(self, delta: np.ndarray) -> MoveResult:
        self.position = self.position + np.asarray(delta)[:3]
        return MoveResult(commanded=np.asarray(delta), achieved=np.asarray(delta))

    def save_state(self) -> np.ndarray:
        return self.position.copy()

    def restore_state(self, state: np.ndarray) -> None:
        self.position = np.asarray(state, dtype=np.float64).copy()


class _Grey(ClosesOnExit):
    height = width = 16
    closed = False

    def read(self) -> np.ndarray:
        return np.full((self.height, self.width, 3), 128, dtype=np.uint8)

    def close(self) -> None:
        self.closed = True


class _ReachTask(Task[_Reports]):
    name = "Reach"
    max_steps = 7
    templates = ("reach the {target}", "go to the {target}")
    aux_size = 1

    def sample_initial_state(self, backend: _Reports, rng: np.random.Generator) -> dict[str, str]:
        backend.position = np.zeros(3)
        self.goal = np.array([rng.uniform(0.1, 0.2), 0.0, 0.0])
        self.aux = np.array([2.0])
        return {"target": "mark"}

    def success(self, backend: _Reports) -> bool:
        return bool(np.linalg.norm(backend.position - self.goal) < 0.01)


def test_task_abstraction_imports_without_mujoco():
    code = (
        "import sys;"
        "from cliprt_envs.tasks import Task;"
        "from cliprt_envs.sim.tasks.base import SimTask;"
        "import cliprt_envs.sim.tasks.pick, cliprt_envs.sim.tasks.expert, cliprt_envs.registry;"
        "assert issubclass(SimTask, Task);"
        "assert 'mujoco' not in sys.modules, 'mujoco was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_task_without_a_simulator_resets_scores_and_saves_its_state():
    task, backend = _ReachTask(), _Reports()
    instruction = task.reset(backend, np.random.default_rng(0))
    assert instruction in {t.format(target="mark") for t in task.instruction_templates()}
    assert not task.success(backend) and task.reward(backend) == 0.0
    backend.position = task.goal.copy()
    assert task.success(backend) and task.reward(backend) == 1.0  # the default reward is the sparse one
    state = task.save_state()
    assert state.shape == (4 + task.aux_size,)
    other = _ReachTask()
    other.restore_state(state)
    np.testing.assert_array_equal(other.save_state(), state)
    with pytest.raises(ValueError, match="Reach task state has 5 numbers"):
        other.restore_state(np.zeros(3))


def test_expert_is_optional():
    task = _ReachTask()
    assert not task.has_expert
    with pytest.raises(NoExpertError, match="no scripted expert"):
        task.expert_action(_Reports(), default_vocabulary())
    assert all(e.task_class(image_size=(16, 16)).has_expert for e in SIM_TASKS)


@pytest.mark.parametrize("entry", SIM_TASKS, ids=[e.name for e in SIM_TASKS])
def test_registry_reads_name_and_step_limit_from_the_task_class(entry: SimTaskEntry):
    cls = entry.task_class
    assert issubclass(cls, Task) and cls.name and cls.summary
    spec = gym.spec(entry.env_id)
    assert spec.max_episode_steps == cls.max_steps
    assert spec.kwargs["task"] == cls.name
    assert entry.env_id == f"CLIPRT-UR5Sim-{cls.name}-v0"


def test_every_entry_is_registered_once():
    ids = [e.env_id for e in ENV_ENTRIES]
    assert len(ids) == len(set(ids))
    assert cliprt_envs.registered_ids() == ids
    assert all(e.env_id in gym.registry for e in ENV_ENTRIES)


def make_reach_env(**_: object) -> LanguageMotionEnv:
    """The entry point of the toy id below: any backend, camera and task behind the same env."""
    return LanguageMotionEnv(_Reports(), _Grey(), _ReachTask())


def test_register_takes_a_non_sim_entry_and_the_env_runs_a_task_without_a_simulator():
    entry = EnvEntry("CLIPRT-ToyReach-v0", f"{__name__}:make_reach_env", max_steps=3, summary="a toy")
    cliprt_envs._register((entry,))
    try:
        assert gym.spec(entry.env_id).max_episode_steps == 3
        env = gym.make(entry.env_id)
        obs, info = env.reset(seed=0)
        assert obs["instruction"].endswith("the mark") and info["task"] == "Reach"
        with pytest.raises(TypeError, match="no scripted expert"):
            env.unwrapped.expert_action()
        truncated = False
        for _ in range(3):
            _, reward, terminated, truncated, info = env.step("lower the arm by 1 centimeter")
            assert reward == 0.0 and not terminated and not info["is_success"]
        assert truncated  # the entry's step limit
        camera = env.unwrapped.camera
        env.close()
        assert camera.closed
    finally:
        gym.registry.pop(entry.env_id, None)


def test_backend_and_camera_protocols_are_context_managers():
    with _Reports() as backend, _Grey() as camera:
        assert backend.connected and not camera.closed
    assert not backend.connected and camera.closed
    with pytest.raises(RuntimeError), _Reports() as backend:
        raise RuntimeError("closed anyway")
    assert not backend.connected
