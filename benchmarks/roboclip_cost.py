"""RoboCLIP's costs on this machine: reward cost per episode for each encoder, env steps/s with and without it.

    python -m benchmarks.roboclip_cost [--repeats 3] [--encoder-dir DIR] [--encoders ...] [--steps 512] [--n-envs 2]

Reward cost: the time to embed one episode's clip (and 8 clips in one batch)
with each encoder at its recipe: S3D (random weights: the same compute as
the published ones) at 32 x 224 and 32 x 250 px, open_clip ViT-B-32 (random
weights) on 8 frames, the tiny open_clip model, and the in-project encoder
(``--encoder-dir``, or random weights) on 16 x 64 px.

Env steps/s: SB3 vector envs of a twin task (``sim:OpenDrawer``, 64 px front
camera) and of Meta-World drawer-close (``--mw-size`` px corner camera, 128-step
episodes), random actions, (a) bare, (b) recording clips and scoring them with
the in-project encoder (twin) or the tiny open_clip model (Meta-World).
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


ENCODERS = ("s3d-250", "s3d-224", "vit-b-32", "tiny", "trained")


def encoders(encoder_dir: str | None, chosen: tuple[str, ...]):
    from cliprt_agents.config import TINY_MODEL
    from cliprt_agents.roboclip.config import TrainedEncoderConfig
    from cliprt_agents.roboclip.encoders.clip_frames import ClipFramesEncoder
    from cliprt_agents.roboclip.encoders.s3d_encoder import S3DEncoder
    from cliprt_agents.roboclip.encoders.trained import TrainedVideoEncoder, VideoTextModel

    s3d = S3DEncoder.random() if {"s3d-250", "s3d-224"} & set(chosen) else None
    if "s3d-250" in chosen:
        yield "S3D 32x250x250 (paper)", s3d, (32, 250)
    if "s3d-224" in chosen:
        yield "S3D 32x224x224", s3d, (32, 224)
    if "vit-b-32" in chosen:
        yield "open_clip ViT-B-32 mean of 8 frames", ClipFramesEncoder("ViT-B-32", None), (8, 224)
    if "tiny" in chosen:
        yield "open_clip CLIPRT-Tiny mean of 8 frames", ClipFramesEncoder(TINY_MODEL, None), (8, 64)
    if "trained" not in chosen:
        return
    if encoder_dir:
        trained = TrainedVideoEncoder.load(encoder_dir)
    else:
        config = TrainedEncoderConfig()
        trained = TrainedVideoEncoder(VideoTextModel(config, ["open"]), config, ["open"])
    yield "in-project encoder 16x64x64", trained, (trained.recipe.num_frames, trained.recipe.size)


def reward_costs(repeats: int, encoder_dir: str | None, chosen: tuple[str, ...]) -> None:
    print("reward cost per episode (seconds): 1 clip | per clip in a batch of 8")
    for name, encoder, (frames, size) in encoders(encoder_dir, chosen):
        one = np.random.default_rng(0).random((1, frames, size, size, 3), dtype=np.float32)
        eight = np.repeat(one, 8, axis=0)
        t1 = _time(lambda e=encoder, v=one: e.embed_videos(v), repeats)
        t8 = _time(lambda e=encoder, v=eight: e.embed_videos(v), max(1, repeats // 2))
        print(f"  {name:42s} {t1:8.3f} | {t8 / 8:8.3f}")


def env_speed(env: str, steps: int, n_envs: int, record: bool, encoder, recipe, size: int) -> float:
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from cliprt_agents.roboclip.envs import EnvChoice, make_worker_env
    from cliprt_agents.roboclip.ppo import make_vec_reward
    from cliprt_envs.parallel import main_module_hidden, prepare_context

    choice = EnvChoice(env=env, render_width=size, render_height=size)
    fns = [functools.partial(make_worker_env, choice, recipe, 128, i, record) for i in range(n_envs)]
    with main_module_hidden():
        vec = SubprocVecEnv(fns, start_method=prepare_context())
    if record:
        target = encoder.embed_texts(["open the drawer"])[0]
        vec = make_vec_reward(vec, encoder, target, recipe)
    try:
        vec.seed(0)  # the same scenes and the same random actions with and without the reward
        vec.reset()
        vec.action_space.seed(0)
        actions = [np.stack([vec.action_space.sample() for _ in range(n_envs)]) for _ in range(steps // n_envs)]
        start = time.perf_counter()
        for action in actions:
            vec.step(action)
        return steps / (time.perf_counter() - start)
    finally:
        vec.close()


def env_speeds(args: argparse.Namespace) -> None:
    from cliprt_agents.config import TINY_MODEL
    from cliprt_agents.roboclip.config import FrameRecipe, TrainedEncoderConfig
    from cliprt_agents.roboclip.encoders.clip_frames import ClipFramesEncoder
    from cliprt_agents.roboclip.encoders.trained import TrainedVideoEncoder, VideoTextModel

    if args.encoder_dir:
        trained = TrainedVideoEncoder.load(args.encoder_dir)
    else:
        config = TrainedEncoderConfig()
        trained = TrainedVideoEncoder(VideoTextModel(config, ["open"]), config, ["open"])
    clip = ClipFramesEncoder(TINY_MODEL, None)
    cases = [
        ("sim:OpenDrawer", trained, trained.recipe, 64),
        ("metaworld:drawer-close", clip, FrameRecipe(crop=None, size=64, stride=4, num_frames=32), args.mw_size),
    ]
    print(f"env steps/s, {args.n_envs} subprocess envs, random actions: bare | with the RoboCLIP reward | ratio")
    for env, encoder, recipe, size in cases:
        bare = env_speed(env, args.steps, args.n_envs, False, None, recipe, size)
        wrapped = env_speed(env, args.steps, args.n_envs, True, encoder, recipe, size)
        print(f"  {env:24s} {bare:8.1f} | {wrapped:8.1f} | {wrapped / bare:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--encoder-dir", default=None, help="a folder from `cliprt roboclip train-encoder`")
    parser.add_argument("--steps", type=int, default=512, help="env steps per speed measurement")
    parser.add_argument("--n-envs", type=int, default=2)
    parser.add_argument("--mw-size", type=int, default=224, help="Meta-World render side in pixels")
    parser.add_argument("--encoders", nargs="+", choices=ENCODERS, default=list(ENCODERS), help="encoders to time")
    parser.add_argument("--skip-encoders", action="store_true")
    parser.add_argument("--skip-envs", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    if not args.skip_encoders:
        reward_costs(args.repeats, args.encoder_dir, tuple(args.encoders))
    if not args.skip_envs:
        env_speeds(args)


if __name__ == "__main__":
    main()
