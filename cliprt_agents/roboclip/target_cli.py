"""The target of a ``cliprt roboclip train`` run from its flags: text, video, edited video or a recorded expert demo."""

from __future__ import annotations

import argparse

import numpy as np

from cliprt_agents.roboclip.config import FrameRecipe
from cliprt_agents.roboclip.envs import EnvChoice
from cliprt_agents.roboclip.targets import Target, target_embedding

#: Scene seed of the recorded expert demonstration (apart from the training workers' seeds).
DEMO_SEED = 123_457


def expert_demo_frames(env: EnvChoice, camera_size: int) -> tuple[np.ndarray, str]:
    """One scripted-expert episode of a twin task, every frame kept: ``(frames, instruction)``."""
    from cliprt_agents.roboclip.record import make_sim_render_env, run_episode

    all_frames = FrameRecipe(crop=None, size=None, stride=1, num_frames=None)
    sim = make_sim_render_env(env.task, camera_size, env.camera or "front")
    try:
        episode = run_episode(sim, np.random.default_rng(0), all_frames, expert_steps=None, seed=DEMO_SEED)
    finally:
        sim.close()
    if not episode.success:
        raise ValueError(f"the scripted expert failed its demonstration of {env.task}; give --video or --text instead")
    return episode.clip, episode.instruction


def resolve_target(args: argparse.Namespace, env: EnvChoice, encoder, recipe: FrameRecipe) -> tuple[np.ndarray, str]:
    """``(target vector, description)``."""
    given = [name for name in ("text", "video", "demo") if getattr(args, name, None)]
    if len(given) > 1:
        raise ValueError(f"give one target, not {', '.join('--' + g for g in given)}")
    if args.demo:
        if env.suite != "sim":
            raise ValueError("--demo expert records a scripted demonstration on the twin: use it with --env sim:<Task>")
        frames, instruction = expert_demo_frames(env, env.size()[0])
        target = Target(video=frames, minus=args.edit_minus, plus=args.edit_plus)
        return target_embedding(encoder, target, recipe), f"expert demonstration ({instruction!r}, seed {DEMO_SEED})"
    if args.video:
        target = Target(video=args.video, minus=args.edit_minus, plus=args.edit_plus)
        return target_embedding(encoder, target, recipe), target.describe()
    text = args.text or env.default_text()
    if not text:
        raise ValueError(f"no target: give --text, --video or (twin tasks) --demo expert for {env.env}")
    if args.edit_minus or args.edit_plus:
        raise ValueError("--edit-minus/--edit-plus edit a demonstration video: give --video or --demo too")
    target = Target(text=text)
    return target_embedding(encoder, target, recipe), target.describe()
