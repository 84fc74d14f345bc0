"""``cliprt roboclip train`` and ``cliprt roboclip train-encoder`` (argparse only at import; work inside the commands)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from cliprt_agents.flags import add_config_flags, config_from_flags
from cliprt_agents.roboclip.config import VALUE_RANGES, EncoderTraining, FrameRecipe, PPOSettings, TrainedEncoderConfig
from cliprt_agents.roboclip.encoders.base import ENCODER_KINDS
from cliprt_agents.roboclip.envs import EnvChoice


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("roboclip", help="RoboCLIP: RL from a video-language reward (one demonstration or a text)")
    commands = parser.add_subparsers(dest="roboclip_command", metavar="ROBOCLIP_COMMAND")
    commands.required = True
    _register_train(commands)
    _register_train_encoder(commands)
    _register_score(commands)


def add_encoder_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("encoder")
    g.add_argument("--encoder", choices=ENCODER_KINDS, default="s3d", help="video-language model (default: s3d, the paper's)")
    g.add_argument("--encoder-weights", help="s3d: s3d_howto100m.pth; trained: the folder of train-encoder")
    g.add_argument("--encoder-vocabulary", help="s3d: s3d_dict.npy")
    g.add_argument("--clip-model", default="ViT-B-32", help="clip-frames: open_clip model name")
    g.add_argument("--clip-pretrained", default=None, help="clip-frames: open_clip tag or weights file (none: random)")
    g.add_argument("--encoder-device", default="cpu", help="where the encoder runs: cpu, cuda, cuda:N or auto")
    r = p.add_argument_group("frame recipe (default: the encoder's)")
    r.add_argument("--crop", type=int, help="centre crop side in pixels (0: the largest square)")
    r.add_argument("--frame-size", type=int, help="resize the crop to this side (0: keep)")
    r.add_argument("--stride", type=int, help="keep every N-th frame")
    r.add_argument("--num-frames", type=int, help="frames per video (0: all kept)")
    r.add_argument("--value-range", choices=VALUE_RANGES, help="unit: [0, 1]; byte: 0..255 (the authors' Meta-World code)")


def _register_train(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("train", help="PPO on the RoboCLIP reward (Meta-World or the twin), evaluated on true success")
    p.add_argument("--out", type=Path, required=True, help="folder for model.zip, episodes.csv, tb/, result.json")
    t = p.add_argument_group("target (one of)")
    t.add_argument("--text", help="a task description (default on Meta-World: the paper's text for the task)")
    t.add_argument("--video", help="a demonstration: an mp4, a gif or a folder of frames")
    t.add_argument("--demo", choices=("expert",), help="twin tasks: record one demonstration by the scripted expert")
    t.add_argument("--edit-minus", help="edit the video's embedding: subtract this text ...")
    t.add_argument("--edit-plus", help="... and add this one (the paper's multimodal target)")
    p.add_argument("--reward", choices=("roboclip", "true"), default="roboclip", help="true: the env's own reward (baseline)")
    add_config_flags(p.add_argument_group("environment"), EnvChoice)
    add_config_flags(p.add_argument_group("PPO (the paper's settings)"), PPOSettings)
    add_encoder_flags(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)


def _register_train_encoder(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("train-encoder", help="train the small in-project video-language encoder on twin episodes")
    p.add_argument("--out", type=Path, required=True, help="folder for the encoder (encoder.pt, encoder.json, report.json)")
    p.add_argument("--tasks", nargs="+", default=None, help="twin tasks to record (default: every Common and Novel task)")
    p.add_argument("--episodes", type=int, default=12, help="expert episodes per task (as many near misses are added)")
    p.add_argument("--camera", default="front", help="the twin camera the reward will use")
    add_config_flags(p.add_argument_group("model"), TrainedEncoderConfig)
    add_config_flags(p.add_argument_group("training"), EncoderTraining, dest_prefix="train_")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train_encoder)


def _register_score(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("score", help="RoboCLIP similarity of videos (mp4, gif, frame folders) to a text or a demo")
    p.add_argument("videos", nargs="+", help="the videos to score")
    p.add_argument("--text", help="the task description")
    p.add_argument("--video", help="or a demonstration video")
    p.add_argument("--edit-minus", help="edit the demonstration's embedding: subtract this text ...")
    p.add_argument("--edit-plus", help="... and add this one")
    add_encoder_flags(p)
    p.set_defaults(func=run_score)


def run_score(args: argparse.Namespace) -> int:
    from cliprt_agents.roboclip.targets import Target, demo_clip, target_embedding

    encoder = encoder_from_flags(args)
    recipe = recipe_from_flags(args, encoder.recipe)
    target = Target(text=args.text, video=args.video, minus=args.edit_minus, plus=args.edit_plus)
    z = target_embedding(encoder, target, recipe)
    for path in args.videos:
        similarity = float(encoder.embed_videos(demo_clip(path, recipe)[None])[0] @ z)
        print(f"{similarity:.4f}  {path}")
    return 0


def recipe_from_flags(args: argparse.Namespace, base):
    """The encoder's recipe with the flags given on the command line changed (0: None for crop/size/frames)."""
    changes = {}
    for flag, name in (("crop", "crop"), ("frame_size", "size"), ("stride", "stride"), ("num_frames", "num_frames")):
        value = getattr(args, flag, None)
        if value is not None:
            changes[name] = None if (value == 0 and name != "stride") else value
    if getattr(args, "value_range", None):
        changes["value_range"] = args.value_range
    return dataclasses.replace(base, **changes)


def encoder_from_flags(args: argparse.Namespace):
    from cliprt_agents.devices import resolve_device
    from cliprt_agents.roboclip.encoders.base import make_encoder

    device = str(resolve_device(args.encoder_device, fix="--encoder-device cpu"))
    return make_encoder(
        args.encoder,
        weights=args.encoder_weights,
        vocabulary=args.encoder_vocabulary,
        model=args.clip_model,
        pretrained=args.clip_pretrained,
        device=device,
    )


def run_train(args: argparse.Namespace) -> int:
    from cliprt_agents.roboclip.ppo import RunSpec, train_roboclip
    from cliprt_agents.roboclip.target_cli import resolve_target

    env = config_from_flags(EnvChoice, args)
    ppo = config_from_flags(PPOSettings, args)
    encoder = target = None
    recipe = recipe_from_flags(args, FrameRecipe())
    described = "the env's own reward"
    if args.reward == "roboclip":
        encoder = encoder_from_flags(args)
        recipe = recipe_from_flags(args, encoder.recipe)
        target, described = resolve_target(args, env, encoder, recipe)
    spec = RunSpec(env=env, ppo=ppo, recipe=recipe, reward=args.reward, target=described)
    result = train_roboclip(spec, encoder, target, args.out, progress=not args.no_progress)
    print(json.dumps({k: result[k] for k in ("train", "eval", "finetune") if k in result}, indent=2))
    print(f"model: {args.out / 'model.zip'} (stable_baselines3.PPO.load)")
    return 0


def run_train_encoder(args: argparse.Namespace) -> int:
    from cliprt_agents.roboclip.record import record_episodes
    from cliprt_agents.roboclip.train_encoder import retrieval_accuracy, train_encoder
    from cliprt_envs.registry import SIM_TASKS

    if args.episodes < 1:
        raise ValueError("--episodes must be >= 1")
    config = config_from_flags(TrainedEncoderConfig, args)
    training = config_from_flags(EncoderTraining, args, dest_prefix="train_")
    tasks = tuple(args.tasks or [e.name for e in SIM_TASKS])
    progress = not args.no_progress
    episodes = record_episodes(tasks, args.episodes, config.recipe(), camera=args.camera, seed=training.seed, progress=progress)
    held_out = record_episodes(tasks, 2, config.recipe(), camera=args.camera, seed=training.seed + 1, progress=progress)
    encoder, losses = train_encoder(episodes, config, training, progress=progress)
    encoder.save(args.out)
    report = {
        "tasks": list(tasks),
        "episodes": len(episodes),
        "successes": int(sum(e.success for e in episodes)),
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "train": retrieval_accuracy(encoder, episodes),
        "held_out": retrieval_accuracy(encoder, held_out),
        "camera": args.camera,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0
