"""``cliprt train``: contrastive imitation learning from a dataset, sim rollouts or a toy set.

Runs unchanged under ``torchrun --nproc_per_node=N`` (each process takes
``--batch-size / N`` samples of every global batch). Rerunning the same
command after a crash resumes from the newest checkpoint in ``--out``.
Only argparse is imported at the top so that ``cliprt --help`` stays fast.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends an option's default to its help once: not when the help already names it, nor when there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train CLIP-RT / CLIP-RT-Action / CLIP-RT+ (also under torchrun)",
        description=(
            "Train a CLIP-RT policy by contrastive imitation learning. Data: a recorded dataset (--data), "
            "scripted-expert rollouts of sim tasks (--collect-sim), or a toy set (--synthetic). "
            "Rerun the same command to resume after a crash; wrap it in `torchrun --nproc_per_node=N` for DDP."
        ),
        formatter_class=HelpFormatter,
    )
    src = p.add_argument_group("data (choose one)")
    excl = src.add_mutually_exclusive_group(required=True)
    excl.add_argument("--data", type=Path, metavar="PATH", help="a recorded dataset directory (loaded by cliprt_data)")
    excl.add_argument(
        "--collect-sim", metavar="ID[,ID]", help="roll out the scripted expert of these sim tasks (names or env ids)"
    )
    excl.add_argument("--synthetic", type=int, metavar="N", help="N samples of a toy coloured-square task (smoke tests)")
    src.add_argument("--episodes", type=int, default=50, help="episodes per sim task with --collect-sim")
    src.add_argument("--sim-image-size", type=int, default=224, help="camera resolution for --collect-sim")
    src.add_argument("--sim-seed", type=int, default=0, help="first episode seed for --collect-sim")
    src.add_argument("--no-paraphrase", action="store_true", help="supervise with canonical motion texts only")
    src.add_argument("--val-data", type=Path, metavar="PATH", help="a separate validation dataset (default: held-out episodes)")

    m = p.add_argument_group("model")
    m.add_argument("--model", default="ViT-B-32", help="open_clip model name, or CLIPRT-Tiny for CPU tests")
    m.add_argument(
        "--pretrained",
        default="laion2b_s34b_b79k",
        help="open_clip tag, a local weights file, or 'none' for random weights",
    )
    m.add_argument(
        "--variant",
        choices=("language", "action_tokens", "plus"),
        default="language",
        help="CLIP-RT (motion texts), CLIP-RT-Action (learned motion tokens) or CLIP-RT+ (action chunks)",
    )
    m.add_argument(
        "--fusion",
        choices=("sum", "product"),
        default="sum",
        help="image + instruction context: the paper's sum, or sum plus element-wise product (can choose objects by name)",
    )
    m.add_argument("--image-size", type=int, help="override the image tower's input size")
    m.add_argument("--chunk-size", type=int, default=8, help="CLIP-RT+: actions per chunk")
    m.add_argument(
        "--action-dims",
        type=int,
        choices=(7, 8),
        default=7,
        help="CLIP-RT+: 7 = [xyz, rpy, gripper] (LIBERO), 8 = also gripper rotation",
    )
    m.add_argument("--init-from", type=Path, metavar="DIR", help="start from the weights of a CLIP-RT checkpoint")

    t = p.add_argument_group("training")
    t.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, metrics, final model)")
    t.add_argument("--epochs", type=int, default=100, help="passes over the training set (see also --max-steps)")
    t.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (overrides --epochs)")
    t.add_argument("--batch-size", type=int, default=16, help="global batch size (split over torchrun processes)")
    t.add_argument("--lr", type=float, default=5e-6, help="peak learning rate (paper: 5e-6 fine-tuning; ~5e-4 from scratch)")
    t.add_argument("--warmup", type=int, default=100, help="warm-up steps")
    t.add_argument(
        "--weight-decay", type=float, default=0.1, help="AdamW weight decay (not applied to gains, biases or the logit scale)"
    )
    t.add_argument("--grad-clip", type=float, default=1.0, help="max gradient norm (0: off)")
    t.add_argument(
        "--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto", help="auto: bf16 on GPUs, fp32 on CPUs"
    )
    t.add_argument("--contrastive-weight", type=float, default=0.0, help="CLIP-RT+: add this much CIL loss to the L1 loss")
    t.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    t.add_argument("--val-fraction", type=float, default=0.1, help="fraction of episodes held out for validation")
    t.add_argument("--val-every", type=int, default=200, help="validate every N steps")
    t.add_argument("--checkpoint-every", type=int, default=200, help="write a resumable checkpoint every N steps")
    t.add_argument("--keep", type=int, default=2, help="resumable checkpoints to keep")
    t.add_argument("--seed", type=int, default=0, help="random seed: weights, shuffling, the validation split, --synthetic data")
    t.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, or auto (cuda when torch sees a GPU, else cpu)")
    t.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads per process (default: torch's choice; use 1 on CPUs shared with other jobs, "
        "where spin-waiting threads can make every step many times slower)",
    )
    t.add_argument("--overwrite", action="store_true", help="start over instead of resuming from --out")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)


def load_recorded_dataset(path: Path, **options: Any) -> Any:
    """A recorded dataset through ``cliprt_data.datasets.load_training_dataset`` (imported lazily).

    Options the loader accepts (e.g. ``chunk_size``) are passed on; others are dropped.
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
    params = inspect.signature(load_training_dataset).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = {k: v for k, v in options.items() if takes_any or k in params}
    return load_training_dataset(path, **accepted)


def _configs(args: argparse.Namespace) -> tuple[Any, Any]:
    from cliprt_agents.config import ALL_DIMS, SEVEN_DOF_INDICES, ModelConfig, TrainConfig

    model_config = ModelConfig(
        backbone=args.model,
        pretrained=args.pretrained,
        variant=args.variant,
        fusion=args.fusion,
        image_size=args.image_size,
        chunk_size=args.chunk_size,
        action_indices=SEVEN_DOF_INDICES if args.action_dims == 7 else ALL_DIMS,
    )
    train_config = TrainConfig(
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_steps=args.warmup,
        weight_decay=args.weight_decay,
        grad_clip=args.grad_clip or None,
        precision=args.precision,
        num_workers=args.workers,
        val_fraction=args.val_fraction,
        val_every=args.val_every,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep,
        seed=args.seed,
        contrastive_weight=args.contrastive_weight,
        progress=not args.no_progress,
    )
    return model_config, train_config


#: Seconds a torchrun rank other than 0 waits, after an error, for rank 0 to report the same error.
RANK_ERROR_GRACE_S = 10.0


def cmd_train(args: argparse.Namespace) -> int:
    import os
    import time

    from cliprt_agents.errors import MissingDependencyError

    try:
        try:
            return _train(args)
        except MissingDependencyError as exc:
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


def _train(args: argparse.Namespace) -> int:
    import os

    from cliprt_agents.devices import resolve_device

    model_config, train_config = _configs(args)
    resolve_device(args.device, fix="--device cpu")  # before collecting data or building the model
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError("--threads must be >= 1")
        import torch

        torch.set_num_threads(args.threads)
    if args.episodes < 1:
        raise ValueError("--episodes must be >= 1")
    rank = int(os.environ.get("RANK", "0"))
    progress = train_config.progress and rank == 0
    val_dataset = None
    chunk = model_config.chunk_size if model_config.variant == "plus" else None
    if args.data is not None:
        dataset = load_recorded_dataset(args.data, chunk_size=chunk, progress=progress)
        data_info: dict[str, Any] = {"source": "recorded", "path": str(args.data), "samples": len(dataset)}
    elif args.collect_sim is not None:
        from cliprt_agents.sim_data import collect_sim_dataset

        dataset = collect_sim_dataset(
            args.collect_sim,
            args.episodes,
            seed=args.sim_seed,
            image_size=args.sim_image_size,
            chunk_size=model_config.chunk_size,
            paraphrase=not args.no_paraphrase,
            progress=progress,
        )
        data_info = {"source": "sim", **getattr(dataset, "summary", {})}
        if progress:
            print(f"collected {json.dumps(data_info)}", flush=True)
    else:
        from cliprt_agents.synthetic import SyntheticMotionDataset

        if args.synthetic < 2:
            raise ValueError("--synthetic needs at least 2 samples")
        dataset = SyntheticMotionDataset(
            args.synthetic, seed=args.seed, paraphrase=not args.no_paraphrase, chunk_size=model_config.chunk_size
        )
        data_info = {"source": "synthetic", "samples": args.synthetic}
    if args.val_data is not None:
        val_dataset = load_recorded_dataset(args.val_data, chunk_size=chunk, progress=progress)

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
        print(json.dumps(summary, indent=2), file=sys.stdout, flush=True)
    return 0
