"""Contrastive imitation learning for CLIP-RT (and L1 chunk regression for CLIP-RT+).

One code path for one process and for ``torchrun --nproc_per_node=N``: the
process group comes from torchrun's environment variables, the global batch
is split evenly over ranks, features are gathered so the loss sees the whole
global batch (see :mod:`cliprt_agents.losses`), and only rank 0 writes files
and shows progress.

The optimiser recipe is in :mod:`cliprt_agents.optim`, the loss in
:mod:`cliprt_agents.objective`; :class:`Trainer` sets up a run, steps, and
after each step calls back for logging, validation and checkpoints (rerunning
the same command resumes from the latest one, at the same position in the
same epoch).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from cliprt_agents.checkpoint import (
    LATEST_FILE,
    CheckpointError,
    latest_checkpoint,
    load_model,
    load_state,
    load_training_checkpoint,
    optimizer_from_safetensors,
    read_config,
    resolve_model_dir,
    save_model,
    save_training_checkpoint,
)
from cliprt_agents.config import ModelConfig, TrainConfig
from cliprt_agents.data import collator_for, split_by_episode, worker_init
from cliprt_agents.distributed import (
    DistributedContext,
    EpochBatchSampler,
    barrier,
    init_distributed,
    keep_freed_memory,
    wrap_ddp,
)
from cliprt_agents.image_shift import random_shift
from cliprt_agents.mirror import MirroredDataset
from cliprt_agents.model import CLIPRT, KEYPOINTS_PREFIX, MAX_LOGIT_SCALE, build_model
from cliprt_agents.objective import compute_loss, evaluate, freeze_unused, uses_contrastive
from cliprt_agents.optim import amp_dtype, autocast, freeze_parameters, lr_at, make_optimizer, to_device
from cliprt_agents.preprocess import PreprocessSpec
from cliprt_agents.train_state import LoopState, RunParts, TrainResult
from cliprt_envs.motions import Vocabulary, default_vocabulary

log = logging.getLogger(__name__)


class Trainer:
    """Train a CLIP-RT model on any Dataset of motion samples (see :mod:`cliprt_agents.data`).

    ``run_dir`` receives checkpoints, metrics and the final model. If it
    already holds a checkpoint, training resumes from it (same model config
    required) unless ``overwrite=True``. ``init_from`` starts from the weights
    of another CLIP-RT model (fine-tuning a pretrained CLIP-RT).
    """

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        train_dataset: Dataset,
        run_dir: str | os.PathLike[str],
        *,
        vocabulary: Vocabulary | None = None,
        val_dataset: Dataset | None = None,
        device: str | torch.device | None = None,
        init_from: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        data_info: dict[str, Any] | None = None,
    ) -> None:
        self.model_config = model_config
        self.config = train_config
        self.train_dataset = train_dataset
        self.val_dataset = val_dataset
        self.run_dir = Path(run_dir)
        self.vocabulary = vocabulary or default_vocabulary()
        self.device_pref = device
        self.init_from = init_from
        self.overwrite = overwrite
        self.data_info = dict(data_info or {})

    # -- public ------------------------------------------------------------------
    def fit(self) -> TrainResult:
        """Train (or resume); a run that fails before its first step leaves no folder it created behind."""
        created = _outermost_missing(self.run_dir)
        self._stepped = False
        try:
            return self._fit()
        except BaseException:
            # Only folders this call created, and only while they hold nothing of value (no step taken).
            main = int(os.environ.get("RANK", "0")) == 0
            if main and created is not None and not self._stepped and created.is_dir() and not created.is_symlink():
                shutil.rmtree(created, ignore_errors=True)
            raise

    def _fit(self) -> TrainResult:
        run = self._setup()
        loop = run.loop
        bar = self._progress(run.ctx, run.total, loop.step)
        try:
            self._run_epochs(run, bar)
        except KeyboardInterrupt:
            if run.ctx.world_size == 1 and loop.step > 0:
                self._checkpoint_run(run)
                print(f"\ninterrupted: saved a checkpoint at step {loop.step}; rerun the same command to resume", flush=True)
            raise
        finally:
            if bar is not None:
                bar.close()
        model_dir = self.run_dir / "model"
        if run.ctx.is_main:
            self._export(run.model, model_dir, loop.step, {"final_loss": loop.last_loss})
        barrier(run.ctx)
        return TrainResult(
            run_dir=self.run_dir,
            model_dir=model_dir,
            best_dir=loop.best_dir,
            step=loop.step,
            train_samples=len(run.train_set),
            val_samples=len(run.val_set) if run.val_set is not None else 0,
            samples_per_second=loop.timed_samples / loop.train_seconds if loop.train_seconds > 0 else 0.0,
            last_loss=loop.last_loss,
            validation=loop.history,
        )

    # -- setup -----------------------------------------------------------------------
    def _setup(self) -> RunParts:
        """Process group, run folder, model (fresh, resumed or fine-tuned), optimiser and data."""
        cfg = self.config
        ctx = init_distributed(self.device_pref)
        if ctx.device.type == "cpu":
            keep_freed_memory()  # no page faults on every step's large buffers
        dtype = amp_dtype(ctx.device, cfg.precision)
        if ctx.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if self.overwrite:
                self._clear_run_dir()
        barrier(ctx)
        resume = latest_checkpoint(self.run_dir)
        if resume is not None:
            self._check_resumable(resume)
        torch.manual_seed(cfg.seed)
        model = self._build_model(resume)
        freeze_unused(model, uses_contrastive(self.model_config, cfg))
        freeze_parameters(model, cfg.freeze)
        model.instruction_noise = cfg.instruction_noise
        model.to(ctx.device)
        optimizer = make_optimizer(model, cfg)
        scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
        if self.val_dataset is None:
            train_set, val_set = split_by_episode(self.train_dataset, cfg.val_fraction, cfg.seed)
        else:
            train_set, val_set = self.train_dataset, self.val_dataset
        if cfg.mirror:
            train_set = MirroredDataset(train_set, self.vocabulary)
        sampler = EpochBatchSampler(len(train_set), cfg.batch_size, ctx.rank, ctx.world_size, cfg.seed)
        total = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * sampler.batches_per_epoch
        # from the model as built, before any restore
        collate = collator_for(model, self.vocabulary, with_vocabulary=cfg.loss == "vocabulary")
        loop = LoopState(best_dir=self.run_dir / "best" if (self.run_dir / "best").is_dir() else None)
        if resume is not None:
            loop.step, loop.epoch, loop.batch_in_epoch, loop.best = self._restore(resume, model, optimizer, scaler, ctx)
            if ctx.is_main:
                print(f"resuming from {resume} (step {loop.step}/{total})", flush=True)
        loader, val_loader = self._loaders(ctx, collate, train_set, val_set, sampler)
        return RunParts(
            ctx,
            dtype,
            model,
            wrap_ddp(model, ctx),
            optimizer,
            scaler,
            train_set,
            val_set,
            sampler,
            loader,
            val_loader,
            total,
            loop,
        )

    def _build_model(self, resume: Path | None) -> CLIPRT:
        # Weights from a checkpoint (resume, --init-from) need its preprocessing too: a pretrained
        # tag may have set other mean/std/resize settings than the architecture's defaults.
        source = resume if resume is not None else (resolve_model_dir(self.init_from) if self.init_from is not None else None)
        spec, token_ids = None, None
        if source is not None:
            saved = read_config(source)
            spec = PreprocessSpec.from_dict(saved["preprocess"])
            token_ids = saved.get("action_token_ids") if saved["model"].get("variant") == self.model_config.variant else None
        model = build_model(
            self.model_config, self.vocabulary, load_pretrained=source is None, preprocess=spec, action_token_ids=token_ids
        )
        if self.init_from is not None and resume is None:
            self._init_weights(model)
        return model

    def _loaders(
        self, ctx: DistributedContext, collate: Any, train_set: Dataset, val_set: Dataset | None, sampler: EpochBatchSampler
    ) -> tuple[DataLoader, DataLoader | None]:
        cfg = self.config
        loader_kwargs: dict[str, Any] = {
            "collate_fn": collate,
            "num_workers": cfg.num_workers,
            "pin_memory": ctx.device.type == "cuda",
            "worker_init_fn": worker_init if cfg.num_workers else None,
            # Indices come from the sampler in this process, so workers can live across epochs.
            "persistent_workers": cfg.num_workers > 0,
        }
        loader = DataLoader(train_set, batch_sampler=sampler, **loader_kwargs)
        val_loader = None
        if val_set is not None and len(val_set) > 0 and ctx.is_main:
            val_loader = DataLoader(val_set, batch_size=max(2, cfg.batch_size // ctx.world_size), shuffle=False, **loader_kwargs)
        return loader, val_loader

    # -- the loop ----------------------------------------------------------------------
    def _run_epochs(self, run: RunParts, bar: Any) -> None:
        loop = run.loop
        while loop.step < run.total:
            run.sampler.set_epoch(loop.epoch, loop.batch_in_epoch)
            finished_epoch = True
            for batch in run.loader:
                lr, parts = self._train_step(run, batch)
                self._on_step_end(run, bar, lr, parts)
                if loop.step >= run.total:
                    finished_epoch = loop.batch_in_epoch >= run.sampler.batches_per_epoch
                    break
            if finished_epoch:
                loop.epoch += 1
                loop.batch_in_epoch = 0

    def _train_step(self, run: RunParts, batch: dict[str, torch.Tensor]) -> tuple[float, dict[str, float]]:
        """One optimiser step on one (per-rank) batch; returns the learning rate and the loss parts."""
        cfg, loop, model = self.config, run.loop, run.model
        model.train()
        lr = lr_at(loop.step, cfg.lr, cfg.warmup_steps, run.total)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        batch = to_device(batch, run.ctx.device)
        if cfg.image_shift:  # the global torch RNG: a resumed run restores it with the checkpoint
            batch["images"] = random_shift(batch["images"], cfg.image_shift).to(batch["images"].dtype)
        with autocast(run.ctx.device, run.dtype):
            loss, parts = compute_loss(run.train_model, batch, self.model_config.variant, cfg.contrastive_weight)
        run.scaler.scale(loss * run.ctx.world_size).backward()
        if cfg.grad_clip:
            run.scaler.unscale_(run.optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        run.scaler.step(run.optimizer)
        run.scaler.update()
        run.optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            model.logit_scale_param.clamp_(0.0, MAX_LOGIT_SCALE)
        loop.step += 1
        loop.batch_in_epoch += 1
        self._stepped = True
        loop.last_loss = float(loss.detach())
        if not math.isfinite(loop.last_loss):
            raise FloatingPointError(f"the loss became {loop.last_loss} at step {loop.step}; lower --lr or check the data")
        loop.run_losses.append(loop.last_loss)
        return lr, parts

    # -- callbacks ---------------------------------------------------------------------
    def _on_step_end(self, run: RunParts, bar: Any, lr: float, parts: dict[str, float]) -> None:
        """After each step: throughput, progress, metrics, validation and checkpoints when due."""
        cfg, loop = self.config, run.loop
        if loop.t_mark is not None:
            loop.train_seconds += time.perf_counter() - loop.t_mark
            loop.cpu_seconds += time.process_time() - loop.cpu_mark
            loop.timed_samples += cfg.batch_size
            loop.timed_steps += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loop.last_loss:.4f}", lr=f"{lr:.2e}", epoch=loop.epoch)
        due = loop.step == run.total
        if run.ctx.is_main and (loop.step % cfg.log_every == 0 or due):
            self._log_metrics(run, lr, parts)
        if run.has_val and (loop.step % cfg.val_every == 0 or due):
            self._validate_and_keep_best(run, bar)
        if loop.step % cfg.checkpoint_every == 0 or due:
            self._checkpoint_run(run)
        loop.t_mark, loop.cpu_mark = time.perf_counter(), time.process_time()

    def _log_metrics(self, run: RunParts, lr: float, parts: dict[str, float]) -> None:
        loop = run.loop
        row = {"step": loop.step, "epoch": loop.epoch, "loss": float(np.mean(loop.run_losses)), "lr": lr}
        row.update({k: v for k, v in parts.items()})
        row["logit_scale"] = float(run.model.logit_scale_param.detach().exp())
        row.update(loop.timing)
        self._append_metrics(self.metrics_path, row)
        loop.run_losses.clear()

    def _validate_and_keep_best(self, run: RunParts, bar: Any) -> None:
        loop = run.loop
        result = self._validate(run.ctx, run.model, run.val_loader, run.dtype, loop.step, loop.epoch, bar, self.metrics_path)
        if not result:
            return
        loop.history.append(result)
        higher_better = self.model_config.variant != "plus"
        key = "val_accuracy" if higher_better else "val_l1"
        value = result.get(key)
        if value is not None and (loop.best is None or (value > loop.best if higher_better else value < loop.best)):
            loop.best = value
            loop.best_dir = self.run_dir / "best"
            self._export(run.model, loop.best_dir, loop.step, {key: value})

    def _checkpoint_run(self, run: RunParts) -> None:
        loop = run.loop
        self._checkpoint(
            run.ctx, run.model, run.optimizer, run.scaler, loop.step, loop.epoch, loop.batch_in_epoch, loop.best, run.total
        )

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    # -- helpers -------------------------------------------------------------------
    def _progress(self, ctx: DistributedContext, total: int, step: int) -> Any:
        if not (ctx.is_main and self.config.progress):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=step, desc="training", unit="step", dynamic_ncols=True)

    def _clear_run_dir(self) -> None:
        for name in ("checkpoints", "best", "model"):
            shutil.rmtree(self.run_dir / name, ignore_errors=True)
        for name in (LATEST_FILE, "metrics.jsonl"):
            (self.run_dir / name).unlink(missing_ok=True)

    def _check_resumable(self, ckpt: Path) -> None:
        saved = read_config(ckpt)
        mine = self.model_config.to_dict()
        theirs = ModelConfig.from_dict(saved["model"]).to_dict()  # keys added since it was saved take their defaults
        # The open_clip weights only seed a fresh run; a resumed run takes them from the checkpoint.
        diff = sorted(k for k in mine if k != "pretrained" and mine.get(k) != theirs.get(k))
        if diff:
            details = ", ".join(f"{k}: saved {theirs.get(k)!r} vs now {mine.get(k)!r}" for k in diff)
            raise CheckpointError(
                f"{self.run_dir} holds a run with another model config ({details}); "
                "use another --out, or --overwrite to start over"
            )
        if Vocabulary.from_dict(saved["vocabulary"]).to_dict()["motions"] != self.vocabulary.to_dict()["motions"]:
            raise CheckpointError(f"{self.run_dir} was trained with another motion vocabulary; use another --out or --overwrite")

    def _init_weights(self, model: CLIPRT) -> None:
        source, _ = load_model(self.init_from, vocabulary=self.vocabulary, allow_new_vocabulary=True)
        missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
        # New parts start fresh: CLIP-RT+'s decoder, the proprioception encoder and the image tower's FiLM (both
        # zero output at start), and an instruction encoder's projection (the frozen encoder comes from its package)
        fresh = ("decoder.", "action_scale", "proprio_encoder.", "instruction_encoder.", "film.", KEYPOINTS_PREFIX)
        if any(k.startswith("instruction_encoder.") for k in unexpected):
            raise CheckpointError(
                f"--init-from {self.init_from}: it encodes instructions with --instruction-tower "
                f"{source.config.instruction_tower}; pass the same (now {self.model_config.instruction_tower!r})"
            )
        if any(k.startswith("film.") for k in unexpected):
            raise CheckpointError(f"--init-from {self.init_from}: its image tower reads the instruction; pass --film")
        if any(k.startswith(KEYPOINTS_PREFIX) for k in unexpected):
            raise CheckpointError(f"--init-from {self.init_from}: its image tower has keypoints; pass --keypoints")
        if unexpected or [k for k in missing if not k.startswith(fresh)]:
            raise CheckpointError(
                f"--init-from {self.init_from}: its architecture differs from --model {self.model_config.backbone}"
            )

    def _restore(
        self, ckpt: Path, model: CLIPRT, optimizer: torch.optim.Optimizer, scaler: Any, ctx: DistributedContext
    ) -> tuple[int, int, int, float | None]:
        model_tensors, opt_tensors, state = load_training_checkpoint(ckpt)
        load_state(model, model_tensors, ckpt)
        try:
            optimizer.load_state_dict(optimizer_from_safetensors(opt_tensors, state["optimizer"]))
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"cannot restore the optimiser from {ckpt}: {exc}; use --overwrite to start over") from None
        if state.get("scaler") and scaler.is_enabled():
            scaler.load_state_dict(state["scaler"])
        if "extra.torch_rng" in opt_tensors:
            torch.set_rng_state(opt_tensors["extra.torch_rng"])
        if state.get("world_size") not in (None, ctx.world_size) and ctx.is_main:
            print(f"note: resuming a {state['world_size']}-process run with {ctx.world_size} processes", flush=True)
        return int(state["step"]), int(state["epoch"]), int(state["batch_in_epoch"]), state.get("best")

    def _checkpoint(
        self,
        ctx: DistributedContext,
        model: CLIPRT,
        optimizer: Any,
        scaler: Any,
        step: int,
        epoch: int,
        batch_in_epoch: int,
        best: float | None,
        total: int,
    ) -> None:
        if ctx.is_main:
            save_training_checkpoint(
                self.run_dir,
                step,
                model=model,
                vocabulary=self.vocabulary,
                optimizer=optimizer,
                trainer_state={
                    "epoch": epoch,
                    "batch_in_epoch": batch_in_epoch,
                    "best": best,
                    "total_steps": total,
                    "world_size": ctx.world_size,
                    "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                    "train_config": self.config.to_dict(),
                },
                extra_tensors={"torch_rng": torch.get_rng_state()},
                keep=self.config.keep_checkpoints,
                extra_config=self._extra_config(step),
            )
        barrier(ctx)

    def _extra_config(self, step: int, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"step": step, "train": self.config.to_dict(), "data": self.data_info, "metrics": metrics or {}}

    def _export(self, model: CLIPRT, directory: Path, step: int, metrics: dict[str, Any]) -> None:
        tmp = directory.with_name(f".tmp-{directory.name}")
        shutil.rmtree(tmp, ignore_errors=True)
        save_model(model, tmp, self.vocabulary, self._extra_config(step, metrics))
        shutil.rmtree(directory, ignore_errors=True)
        os.replace(tmp, directory)

    def _validate(
        self,
        ctx: DistributedContext,
        model: CLIPRT,
        loader: DataLoader | None,
        dtype: Any,
        step: int,
        epoch: int,
        bar: Any,
        metrics_path: Path,
    ) -> dict[str, Any] | None:
        result = None
        if ctx.is_main and loader is not None:
            result = {"step": step, "epoch": epoch, **evaluate(model, loader, self.vocabulary, ctx.device, dtype)}
            self._append_metrics(metrics_path, result)
            text = ", ".join(f"{k}={v:.4f}" for k, v in result.items() if isinstance(v, float))
            (bar.write if bar is not None else print)(f"step {step}: {text}")
        barrier(ctx)
        return result

    @staticmethod
    def _append_metrics(path: Path, row: dict[str, Any]) -> None:
        with path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def _outermost_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself or a parent) that does not exist yet, if any."""
    path = Path(os.path.abspath(path))
    top = None
    while not os.path.lexists(path):
        top = path
        if path.parent == path:
            break
        path = path.parent
    return top


def train(
    model_config: ModelConfig,
    train_config: TrainConfig,
    dataset: Dataset,
    run_dir: str | os.PathLike[str],
    **kwargs: Any,
) -> TrainResult:
    """Shorthand for ``Trainer(...).fit()``."""
    return Trainer(model_config, train_config, dataset, run_dir, **kwargs).fit()
