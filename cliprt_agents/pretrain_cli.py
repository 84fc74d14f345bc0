"""``cliprt pretrain-data`` (the sim pretraining corpus) and ``cliprt pretrain`` (CLIP-RT on it).

``cliprt pretrain`` is ``cliprt train`` with the pretraining recipe as its
defaults (:data:`~cliprt_agents.config.PRETRAIN_MODEL`,
:data:`~cliprt_agents.config.PRETRAIN_TRAIN`): every flag of ``cliprt
train`` is there and overrides one value of the recipe. Resumable (re-run the
same command), and the same command under ``torchrun``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cliprt_agents.cli import HelpFormatter, add_run_flags, inherit_model_config, print_summary, set_threads


def register(sub: argparse._SubParsersAction) -> None:
    _register_corpus(sub)
    _register_pretrain(sub)


def _register_corpus(sub: argparse._SubParsersAction) -> None:
    from cliprt_agents.flags import add_config_flags
    from cliprt_data.corpus import CorpusConfig

    p = sub.add_parser(
        "pretrain-data",
        help="record the sim pretraining corpus (varied scenes, the expert knocked off its path and recovering)",
        description="Record scripted-expert episodes of the Common sim tasks as Minari datasets for pretraining: a new "
        "look every reset (colours, light, camera poses), random motions that knock the expert off its path "
        "(unlabelled) and its recovery (labelled), paraphrased supervision. Re-run the same command to finish a "
        "partial corpus.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--out", type=Path, required=True, help="corpus folder (one dataset per task, corpus.json)")
    add_config_flags(p, CorpusConfig)
    p.add_argument(
        "--driver",
        metavar="CHECKPOINT",
        help="a CLIP-RT policy that drives with --driver-prob; its states are labelled by the expert (DAgger)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_pretrain_data)


def _register_pretrain(sub: argparse._SubParsersAction) -> None:
    from cliprt_agents.config import PRETRAIN_MODEL, PRETRAIN_TRAIN, ModelConfig, TrainConfig
    from cliprt_agents.flags import add_config_flags

    p = sub.add_parser(
        "pretrain",
        help="pretrain CLIP-RT on a corpus from `cliprt pretrain-data` (resumable; also under torchrun)",
        description="Contrastive imitation learning on the sim pretraining corpus, with the pretraining recipe as "
        "defaults (CLIPRT-TinyConv from scratch, 64 px, product fusion, whole-vocabulary loss). Every flag of "
        "`cliprt train` overrides one value. Re-run the same command to resume; wrap it in "
        "`torchrun --nproc_per_node=N` for DDP.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--data", type=Path, nargs="+", required=True, metavar="PATH", help="corpus folder(s) or dataset(s)")
    m = p.add_argument_group("model")
    add_config_flags(m, ModelConfig, defaults=PRETRAIN_MODEL)
    m.add_argument("--init-from", type=Path, metavar="DIR", help="start from the weights of a CLIP-RT checkpoint")
    t = p.add_argument_group("training")
    t.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, metrics, final model)")
    add_config_flags(t, TrainConfig, defaults=PRETRAIN_TRAIN)
    add_run_flags(t)
    t.add_argument("--overwrite", action="store_true", help="start over instead of resuming from --out")
    p.set_defaults(func=cmd_pretrain)


def cmd_pretrain_data(args: argparse.Namespace) -> int:
    from cliprt_agents.flags import config_from_flags
    from cliprt_data.corpus import CorpusConfig, generate_corpus

    config = config_from_flags(CorpusConfig, args)
    driver = None
    if args.driver is not None:
        from cliprt_agents.policy import load_policy

        if config.driver_prob <= 0:
            raise ValueError("--driver needs --driver-prob > 0 (the chance per step that the driver's motion runs)")
        driver = load_policy(args.driver, device="cpu")
    report = generate_corpus(config, args.out, progress=not args.no_progress, driver=driver, driver_name=args.driver)
    brief = {k: report[k] for k in ("recipe_hash", "episodes", "steps", "labelled_steps", "seconds", "steps_per_second")}
    print(json.dumps({**brief, "corpus": str(Path(args.out).resolve())}, indent=2), flush=True)
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    import os

    from cliprt_agents.config import SEVEN_DOF_INDICES, ModelConfig, TrainConfig
    from cliprt_agents.devices import resolve_device
    from cliprt_agents.flags import config_from_flags
    from cliprt_agents.train import Trainer
    from cliprt_data.datasets import load_training_dataset

    model_config = inherit_model_config(config_from_flags(ModelConfig, args, action_indices=SEVEN_DOF_INDICES), args)
    train_config = config_from_flags(TrainConfig, args)
    resolve_device(args.device, fix="--device cpu")
    set_threads(args.threads)
    missing = [str(p) for p in args.data if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"no such corpus or dataset: {', '.join(missing)} (make one with `cliprt pretrain-data`)")
    rank = int(os.environ.get("RANK", "0"))
    dataset = load_training_dataset(args.data, progress=train_config.progress and rank == 0)
    data_info = {"source": "pretraining corpus", "paths": [str(Path(p).resolve()) for p in args.data], "samples": len(dataset)}
    result = Trainer(
        model_config,
        train_config,
        dataset,
        args.out,
        vocabulary=dataset.vocabulary,
        device=args.device,
        init_from=args.init_from,
        overwrite=args.overwrite,
        data_info=data_info,
    ).fit()
    if rank == 0:
        print_summary(result, sys.stdout)
    return 0
