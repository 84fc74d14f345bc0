"""Which environment a RoboCLIP run trains on: ``metaworld:<task>`` or ``sim:<Task>``, built the same way in every worker."""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym

from cliprt_agents.roboclip.config import METAWORLD_TEXTS, FrameRecipe
from cliprt_agents.roboclip.reward import EpisodeVideo


@dataclass(frozen=True)
class EnvChoice:
    """``metaworld:drawer-close`` (the paper's) or ``sim:OpenDrawer`` (the MuJoCo twin)."""

    env: str = field(default="metaworld:drawer-close", metadata={"help": "metaworld:<task> or sim:<Task>"})
    camera: str = field(default="", metadata={"help": "reward camera (default: corner on Meta-World, front on the twin)"})
    render_width: int = field(default=0, metadata={"help": "render width (default: 640 Meta-World, 64 twin)"})
    render_height: int = field(default=0, metadata={"help": "render height (default: 480 Meta-World, 64 twin)"})

    def __post_init__(self) -> None:
        if self.suite not in ("metaworld", "sim") or not self.task:
            raise ValueError(f"--env must be metaworld:<task> or sim:<Task>, e.g. metaworld:drawer-close; got {self.env!r}")

    @property
    def suite(self) -> str:
        return self.env.split(":", 1)[0]

    @property
    def task(self) -> str:
        return self.env.split(":", 1)[1] if ":" in self.env else ""

    def default_text(self) -> str | None:
        """The paper's text for a Meta-World task; the instruction of the first scene for a twin task."""
        if self.suite == "metaworld":
            return METAWORLD_TEXTS.get(self.task.removesuffix("-v3"))
        return None

    def size(self) -> tuple[int, int]:
        default = (640, 480) if self.suite == "metaworld" else (64, 64)
        return self.render_width or default[0], self.render_height or default[1]

    def make(self, *, episode_steps: int, seed: int | None = None, render: bool = True, reward_type: str = "sparse") -> gym.Env:
        width, height = self.size()
        if self.suite == "metaworld":
            from cliprt_agents.roboclip.metaworld_envs import make_metaworld_env

            return make_metaworld_env(
                self.task,
                camera=self.camera or "corner",
                width=width,
                height=height,
                episode_steps=episode_steps,
                seed=seed,
                render=render,
            )
        from cliprt_agents.roboclip.sim_state import make_sim_state_env

        if width != height:
            raise ValueError(
                f"the twin renders square frames: give equal --render-width and --render-height (got {width}x{height})"
            )
        return make_sim_state_env(self.task, render_size=width, camera=self.camera or "front", reward_type=reward_type)


def make_worker_env(
    choice: EnvChoice, recipe: FrameRecipe, episode_steps: int, seed: int, record: bool, reward_type: str = "sparse"
) -> gym.Env:
    """One sub-env: the task, its episode clips (``record``) or just its success, seeded per worker."""
    env = choice.make(episode_steps=episode_steps, seed=seed, render=record, reward_type=reward_type)
    return EpisodeVideo(env, recipe, record=record)
