"""``cliprt train``: contrastive imitation learning from a dataset, sim rollouts or a toy set; ``train bc|ppo``: the baselines.

Runs unchanged under ``torchrun --nproc_per_node=N`` (each process takes
``--batch-size / N`` samples of every global batch). Rerunning the same
command after a crash resumes from the newest checkpoint in ``--out``.

The hyper-parameter flags are generated from the config dataclasses
(:class:`~cliprt_agents.config.ModelConfig`, :class:`~cliprt_agents.config.TrainConfig`,
:class:`~cliprt_agents.baselines.configs.BCConfig`, :class:`~cliprt_agents.baselines.configs.PPOConfig`)
by :mod:`cliprt_agents.flags`; this module adds only where the data comes from
and how the process runs. Building the parser imports those plain-data
modules and argparse, never torch, so ``cliprt --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends an option's default to its help once: not when the help already names it, nor when there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.nargs == 0 or "default" in text:
            return text
        return super()._get_help_string(action)


DESCRIPTION = (
    "Train a CLIP-RT policy by contrastive imitation learning. Data: a recorded dataset (--data), "
    "scripted-expert rollouts of sim tasks (--collect-sim), or a toy set (--synthetic). "
    "Rerun the same command to resume after a crash; wrap it in `torchrun --nproc_per_node=N` for DDP. "
    "`cliprt train bc` and `cliprt train ppo` train the baselines instead."
)

#: Arguments argparse cannot require itself: the baselines' sub-commands have their own.
_REQUIRED_DATA = ("--data", "--collect-sim", "--synthetic")


def register(sub: argparse._SubParsersAction) -> None:
    from cliprt_agents.baselines.configs import BCConfig
    from cliprt_agents.config import ModelConfig, TrainConfig
    from cliprt_agents.flags import StoreGiven, add_config_flags

    p = sub.add_parser(
        "train",
        help="train CLIP-RT / CLIP-RT-Action / CLIP-RT+ (also under torchrun); `train bc|ppo`: the baselines",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    src = _add_data_flags(p, "data (choose one)")
    src.add_argument("--val-data", type=Path, metavar="PATH", help="a separate validation dataset (default: held-out episodes)")

    m = p.add_argument_group("model")
    add_config_flags(m, ModelConfig)
    m.add_argument(
        "--action-dims",
        action=StoreGiven,
        type=int,
        choices=(7, 8),
        default=7,
        help="CLIP-RT+: 7 = [xyz, rpy, gripper] (LIBERO), 8 = also gripper rotation",
    )
    m.add_argument("--init-from", type=Path, metavar="DIR", help="start from the weights of a CLIP-RT checkpoint")

    t = p.add_argument_group("training")
    t.add_argument("--out", type=Path, help="run directory (checkpoints, metrics, final model); required")
    add_config_flags(t, TrainConfig)
    add_run_flags(t)
    t.add_argument("--overwrite", action="store_true", help="start over instead of resuming from --out")
    p.set_defaults(func=cmd_train, train_parser=p)

    baselines = p.add_subparsers(
        dest="baseline", metavar="{bc,ppo}", required=False, help="train a baseline instead (see `cliprt train bc --help`)"
    )
    bc = baselines.add_parser(
        "bc",
        help="behaviour cloning with a small CNN (the imitation baseline)",
        description="Train the behaviour-cloning baseline on a dataset; the best-validation model is saved in --out.",
        formatter_class=HelpFormatter,
    )
    _add_data_flags(bc, "data (choose one)", required=True)
    bt = bc.add_argument_group("training")
    bt.add_argument("--out", type=Path, required=True, help="model directory")
    add_config_flags(bt, BCConfig, dest_prefix="bc_")
    add_run_flags(bt)
    bt.add_argument("--no-progress", action="store_true", help="no progress bars")
    bc.set_defaults(func=cmd_train_bc)
    _register_ppo(baselines)


def _register_ppo(baselines: argparse._SubParsersAction) -> None:
    # PPOConfig lives beside stable-baselines3 code; its module imports gymnasium, not SB3, at the top.
    from cliprt_agents.baselines.ppo import PPOConfig
    from cliprt_agents.flags import add_config_flags

    ppo = baselines.add_parser(
        "ppo",
        help="PPO (stable-baselines3) on the task reward (the RL baseline)",
        description="Train one multi-task PPO policy on sim tasks; SB3's zip and its config are saved in --out.",
        formatter_class=HelpFormatter,
    )
    pt = ppo.add_argument_group("training")
    pt.add_argument("--out", type=Path, required=True, help="model directory")
    add_config_flags(pt, PPOConfig, dest_prefix="ppo_", required=("env_ids",))
    pt.add_argument("--no-progress", action="store_true", help="no progress bars")
    ppo.set_defaults(func=cmd_train_ppo)


def _add_data_flags(p: argparse.ArgumentParser, title: str, required: bool = False) -> argparse._ArgumentGroup:
    """Where the training samples come from (CLIP-RT and BC read the same samples)."""
    src = p.add_argument_group(title)
    excl = src.add_mutually_exclusive_group(required=required)
    excl.add_argument("--data", type=Path, metavar="PATH", help="a recorded dataset directory (loaded by cliprt_data)")
    excl.add_argument(
        "--collect-sim", metavar="ID[,ID]", help="roll out the scripted expert of these sim tasks (names or env ids)"
    )
    excl.add_argument("--synthetic", type=int, metavar="N", help="N samples of a toy coloured-square task (smoke tests)")
    src.add_argument("--episodes", type=int, default=50, help="episodes per sim task with --collect-sim")
    src.add_argument("--sim-image-size", type=int, default=224, help="camera resolution for --collect-sim")
    src.add_argument("--sim-seed", type=int, default=0, help="first episode seed for --collect-sim")
    src.add_argument("--no-paraphrase", action="store_true", help="supervise with canonical motion texts only")
    return src


def add_run_flags(t: argparse._ArgumentGroup) -> None:
    """How this process runs (not hyper-parameters: they change speed, not results)."""
    t.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, or auto (cuda when torch sees a GPU, else cpu)")
    t.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads per process (default: torch's choice; use 1 on CPUs shared with other jobs, "
        "where spin-waiting threads can make every step many times slower)",
    )


def load_recorded_dataset(path: Path, **options: Any) -> Any:
    """A recorded dataset through ``cliprt_data.datasets.load_training_dataset`` (imported lazily).

    ``options`` are the loader's keyword arguments (``chunk_size``, ``progress``, ...).
    """
    try:
        from cliprt_data.datasets import load_training_dataset
    except ImportError as exc:
        raise ValueError(
            f"--data needs cliprt_data.datasets.load_training_dataset, which is not available ({exc}); "
            "install the data extra (pip install 'cliprt[data]') or use --collect-sim / --synthetic"
        ) from None
    if not path.exists():
        raise FileNotFoundError(f"dataset {str(path)!r} does not exist")
    return load_training_dataset(path, **options)


def _configs(args: argparse.Namespace) -> tuple[Any, Any]:
    from cliprt_agents.config import ALL_DIMS, SEVEN_DOF_INDICES, ModelConfig, TrainConfig
    from cliprt_agents.flags import config_from_flags

    model_config = config_from_flags(ModelConfig, args, action_indices=SEVEN_DOF_INDICES if args.action_dims == 7 else ALL_DIMS)
    return inherit_model_config(model_config, args), config_from_flags(TrainConfig, args)


def inherit_model_config(config: Any, args: argparse.Namespace) -> Any:
    """With ``--init-from``, the model settings whose flags were not given are the checkpoint's own.

    So ``cliprt train --init-from cliprt-ur5sim-v6 ...`` fine-tunes that
    model as it is (its backbone, image size, fusion, towers) and a flag that
    is given (``--variant action_tokens``) changes one setting. Open_clip
    weights are not loaded (the checkpoint holds them).
    """
    init_from = getattr(args, "init_from", None)
    if init_from is None:
        return config
    import dataclasses
    import os

    from cliprt_agents.checkpoint import read_config, resolve_model_dir
    from cliprt_agents.config import ModelConfig
    from cliprt_agents.flags import given_flags

    saved = ModelConfig.from_dict(read_config(resolve_model_dir(init_from))["model"])
    given = set(given_flags(args))
    if "action_dims" in given:  # --action-dims sets action_indices
        given.add("action_indices")
    values = {f.name: getattr(config if f.name in given else saved, f.name) for f in dataclasses.fields(ModelConfig)}
    values["pretrained"] = None
    inherited = {k: v for k, v in values.items() if v != getattr(config, k) and k != "pretrained"}
    if inherited and int(os.environ.get("RANK", "0")) == 0:
        settings = ", ".join(f"{k}={v!r}" for k, v in inherited.items())
        print(f"note: model settings from --init-from {init_from}: {settings}", file=sys.stderr, flush=True)
    return dataclasses.replace(config, **values)


#: Seconds a torchrun rank other than 0 waits, after an error, for rank 0 to report the same error.
RANK_ERROR_GRACE_S = 10.0


def cmd_train(args: argparse.Namespace) -> int:
    import os
    import time

    from cliprt_envs.errors import MissingExtraError

    _check_required(args)
    try:
        try:
            return _train(args)
        except MissingExtraError as exc:
            raise ValueError(str(exc)) from None
    except (ValueError, FileNotFoundError) as exc:
        # Under torchrun every process meets the same bad option or missing file. Rank 0 says it once
        # (cliprt's entry point prints it) and exits, and torchrun then stops the others while they
        # wait; an error that only another rank met is printed by that rank after the wait.
        rank = int(os.environ.get("RANK", "0"))
        if rank == 0:
            raise
        time.sleep(RANK_ERROR_GRACE_S)
        print(f"cliprt train: error (rank {rank}): {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def _check_required(args: argparse.Namespace) -> None:
    """What argparse would require of ``cliprt train`` if the baselines' sub-commands did not share its parser."""
    parser = args.train_parser
    if args.out is None:
        parser.error("the following arguments are required: --out")
    if all(getattr(args, name.lstrip("-").replace("-", "_")) is None for name in _REQUIRED_DATA):
        parser.error(f"one of the arguments {' '.join(_REQUIRED_DATA)} is required")


def set_threads(threads: int | None) -> None:
    if threads is not None:
        if threads < 1:
            raise ValueError("--threads must be >= 1")
        import torch

        torch.set_num_threads(threads)


def _load_training_data(
    args: argparse.Namespace, *, chunk_size: int, recorded_chunk: int | None, seed: int, progress: bool
) -> tuple[Any, dict[str, Any]]:
    """``(dataset, data_info)`` from ``--data``, ``--collect-sim`` or ``--synthetic``."""
    if args.episodes < 1:
        raise ValueError("--episodes must be >= 1")
    if args.data is not None:
        # CLIP-RT+ regresses chunks: steps too small for a language label (LIBERO's) still start chunks
        plus = recorded_chunk is not None
        dataset = load_recorded_dataset(args.data, chunk_size=recorded_chunk, progress=progress, include_unlabelled=plus)
        return dataset, {"source": "recorded", "path": str(args.data), "samples": len(dataset)}
    if args.collect_sim is not None:
        from cliprt_agents.sim_data import collect_sim_dataset

        dataset = collect_sim_dataset(
            args.collect_sim,
            args.episodes,
            seed=args.sim_seed,
            image_size=args.sim_image_size,
            chunk_size=chunk_size,
            paraphrase=not args.no_paraphrase,
            progress=progress,
        )
        data_info = {"source": "sim", **getattr(dataset, "summary", {})}
        if progress:
            print(f"collected {json.dumps(data_info)}", flush=True)
        return dataset, data_info
    from cliprt_agents.synthetic import SyntheticMotionDataset

    if args.synthetic < 2:
        raise ValueError("--synthetic needs at least 2 samples")
    dataset = SyntheticMotionDataset(args.synthetic, seed=seed, paraphrase=not args.no_paraphrase, chunk_size=chunk_size)
    return dataset, {"source": "synthetic", "samples": args.synthetic}


def _train(args: argparse.Namespace) -> int:
    import os

    from cliprt_agents.devices import resolve_device

    model_config, train_config = _configs(args)
    resolve_device(args.device, fix="--device cpu")  # before collecting data or building the model
    set_threads(args.threads)
    rank = int(os.environ.get("RANK", "0"))
    progress = train_config.progress and rank == 0
    val_dataset = None
    chunk = model_config.chunk_size if model_config.variant == "plus" else None
    dataset, data_info = _load_training_data(
        args, chunk_size=model_config.chunk_size, recorded_chunk=chunk, seed=train_config.seed, progress=progress
    )
    if args.val_data is not None:
        val_dataset = load_recorded_dataset(
            args.val_data, chunk_size=chunk, progress=progress, include_unlabelled=chunk is not None
        )

    from cliprt_agents.train import Trainer

    vocabulary = getattr(dataset, "vocabulary", None)
    result = Trainer(
        model_config,
        train_config,
        dataset,
        args.out,
        vocabulary=vocabulary,
        val_dataset=val_dataset,
        device=args.device,
        init_from=args.init_from,
        overwrite=args.overwrite,
        data_info=data_info,
    ).fit()
    if rank == 0:
        print_summary(result, sys.stdout)
    return 0


def print_summary(result: Any, stream: Any) -> None:
    """The JSON summary a training command prints at the end."""
    summary = {
        "steps": result.step,
        "train_samples": result.train_samples,
        "val_samples": result.val_samples,
        "samples_per_second": round(result.samples_per_second, 1),
        "last_loss": result.last_loss,
        "last_validation": result.validation[-1] if result.validation else None,
        "model": str(result.model_dir),
        "best": str(result.best_dir) if result.best_dir else None,
    }
    print(json.dumps(summary, indent=2), file=stream, flush=True)


def cmd_train_bc(args: argparse.Namespace) -> int:
    """``cliprt train bc``: the behaviour-cloning baseline on the same samples as CLIP-RT."""
    from cliprt_agents.baselines.configs import BCConfig
    from cliprt_agents.devices import resolve_device
    from cliprt_agents.flags import config_from_flags

    config = config_from_flags(BCConfig, args, dest_prefix="bc_")
    resolve_device(args.device, fix="--device cpu")
    set_threads(args.threads)
    dataset, data_info = _load_training_data(
        args, chunk_size=1, recorded_chunk=None, seed=config.seed, progress=not args.no_progress
    )
    from cliprt_agents.baselines.bc import train_bc
    from cliprt_envs.motions import default_vocabulary

    vocabulary = getattr(dataset, "vocabulary", None) or default_vocabulary()
    metrics = train_bc(dataset, vocabulary, config, args.out, progress=not args.no_progress)
    summary = {"data": data_info, "best": metrics["best"], "train_samples": metrics["train_samples"]}
    print(json.dumps({**summary, "val_samples": metrics["val_samples"], "model": str(args.out)}, indent=2), flush=True)
    return 0


def cmd_train_ppo(args: argparse.Namespace) -> int:
    """``cliprt train ppo``: the PPO baseline on the sim tasks' reward."""
    from cliprt_agents.baselines.configs import PPOConfig
    from cliprt_agents.flags import config_from_flags

    config = config_from_flags(PPOConfig, args, dest_prefix="ppo_")
    try:
        from cliprt_agents.baselines.ppo import train_ppo
    except ImportError as exc:
        raise ValueError(f"PPO needs stable-baselines3 ({exc}); install the rl extra (pip install 'cliprt[rl]')") from None
    path = train_ppo(config, args.out, progress=not args.no_progress)
    print(json.dumps({"timesteps": config.total_timesteps, "model": str(path)}, indent=2), flush=True)
    return 0
