"""Checkpoints without pickle: safetensors for tensors, JSON for everything else.

A model directory holds ``config.json`` (model config, open_clip
architecture, preprocessing, the motion vocabulary, CLIP-RT-Action's token
ids) and ``model.safetensors``. A training checkpoint adds
``optimizer.safetensors`` (Adam moments, RNG state) and
``trainer_state.json`` (step, epoch, position in the epoch, optimiser
hyper-parameters, AMP scaler). Nothing is unpickled, so loading a file from
someone else cannot run code.

Run directory layout::

    RUN/latest.json               -> {"checkpoint": "checkpoints/step_000200", "step": 200}
    RUN/checkpoints/step_000200/  config.json, model.safetensors, optimizer.safetensors, trainer_state.json
    RUN/best/                     model with the best validation accuracy (or L1)
    RUN/model/                    final model
    RUN/metrics.jsonl             one JSON line per log/validation event
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cliprt_agents.config import ModelConfig
from cliprt_agents.errors import CheckpointError, VocabularyMismatchError
from cliprt_envs.files import atomic_write_json
from cliprt_envs.motions import Vocabulary

FORMAT = "cliprt-checkpoint"
VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "trainer_state.json"
LATEST_FILE = "latest.json"


# -- vocabulary ---------------------------------------------------------------
def vocabulary_differences(saved: Vocabulary, given: Vocabulary, limit: int = 3) -> list[str]:
    """Human-readable differences (empty when the two vocabularies are the same motions in the same order)."""
    diffs: list[str] = []
    if len(saved) != len(given):
        diffs.append(f"{len(saved)} motions in the checkpoint, {len(given)} given")
    for a, b in zip(saved.motions, given.motions):
        if a.text.strip().lower() != b.text.strip().lower():
            diffs.append(f"motion {a.id}: checkpoint {a.text!r}, given {b.text!r}")
        elif not np.allclose(a.delta, b.delta, atol=1e-9):
            diffs.append(f"motion {a.id} ({a.text!r}) has a different delta")
        if len(diffs) >= limit:
            break
    return diffs


def check_vocabulary(saved: Vocabulary, given: Vocabulary, *, variant: str, allow_new: bool = False, where: str = "") -> None:
    """Raise :class:`VocabularyMismatchError` unless ``given`` is the vocabulary the model was trained on.

    CLIP-RT scores motion *texts*, so with ``allow_new=True`` it may score a
    new vocabulary (zero-shot); CLIP-RT-Action cannot (one learned token per
    trained motion id), nor can CLIP-RT+ (its action scale comes from it).
    """
    diffs = vocabulary_differences(saved, given)
    if not diffs:
        return
    if allow_new and variant == "language":
        return
    hint = "pass the vocabulary it was trained with (or none: the checkpoint's own is used)" + (
        "; for CLIP-RT language models, allow_new_vocabulary=True scores a new vocabulary zero-shot"
        if variant == "language"
        else ""
    )
    raise VocabularyMismatchError(
        f"vocabulary {given.name!r} does not match checkpoint {where or ''} vocabulary {saved.name!r}: "
        + "; ".join(diffs)
        + f". {hint}"
    )


# -- files ----------------------------------------------------------------------
def write_json_atomic(path: Path, data: Any) -> None:
    """A JSON file of a checkpoint, written atomically and durably (indented for people)."""
    atomic_write_json(path, data, indent=2)


def resolve_model_dir(path: str | os.PathLike[str]) -> Path:
    """The directory that holds a model: itself, a run's final ``model/``, or its latest checkpoint.

    Accepts a model directory, a run directory, the ``model.safetensors`` file,
    or the name of a checkpoint shipped with the package (:mod:`cliprt_agents.pretrained`).
    """
    from cliprt_agents.pretrained import shipped_model_dir

    p = Path(path).expanduser()
    shipped = shipped_model_dir(str(path)) if not p.exists() else None
    if shipped is not None:
        return shipped
    if not p.exists():
        from cliprt_agents.pretrained import shipped_names

        names = ", ".join(shipped_names()) or "none"
        raise CheckpointError(f"checkpoint {str(p)!r} does not exist (nor is it a shipped checkpoint: {names})")
    if p.is_file():
        if p.name != WEIGHTS_FILE and p.suffix != ".safetensors":
            raise CheckpointError(f"{str(p)!r} is not a CLIP-RT checkpoint (expected a directory or {WEIGHTS_FILE})")
        p = p.parent
    if (p / CONFIG_FILE).is_file():
        return p
    if (p / "model" / CONFIG_FILE).is_file():
        return p / "model"
    latest = latest_checkpoint(p)
    if latest is not None:
        return latest
    raise CheckpointError(f"{str(p)!r} holds no CLIP-RT checkpoint (no {CONFIG_FILE}, model/ or {LATEST_FILE})")


def read_config(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{str(path)!r} is missing; is {str(model_dir)!r} a CLIP-RT checkpoint?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{str(path)!r} is damaged (not valid JSON: {exc}); use another checkpoint") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a CLIP-RT checkpoint config (format is not {FORMAT!r})")
    if int(data.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"{str(path)!r} has format version {data.get('version')}; this cliprt reads up to {VERSION}: upgrade cliprt"
        )
    for key in ("model", "vocabulary", "preprocess"):
        if key not in data:
            raise CheckpointError(f"{str(path)!r} lacks {key!r}; the checkpoint is incomplete")
    return data


def model_config_dict(model: Any, vocabulary: Vocabulary, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    data = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.config.to_dict(),
        "architecture": model.architecture,
        "embed_dim": model.embed_dim,
        "preprocess": model.preprocess.to_dict(),
        "vocabulary": vocabulary.to_dict(),
        "action_token_ids": model.action_token_ids,
    }
    if _sentence_towers(model.config):  # frozen sentence encoders, left out of the weights file
        from cliprt_agents.sentence_tower import encoder_fingerprint, encoder_folder

        for what, tower in _sentence_towers(model.config):
            data[f"{what}_tower_fingerprint"] = encoder_fingerprint(encoder_folder(tower))
    if extra:
        data.update(extra)
    return data


def save_model(
    model: Any, directory: str | os.PathLike[str], vocabulary: Vocabulary, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``config.json`` + ``model.safetensors`` into ``directory`` (created if needed)."""
    from safetensors.torch import save_model as st_save_model

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    from cliprt_agents.sentence_tower import frozen_prefixes

    if not frozen_prefixes(model):
        st_save_model(model, str(out / WEIGHTS_FILE), metadata={"format": FORMAT})
    else:
        from safetensors.torch import save_file

        save_file(_trained_tensors(model), str(out / WEIGHTS_FILE), metadata={"format": FORMAT})
    write_json_atomic(out / CONFIG_FILE, model_config_dict(model, vocabulary, extra))
    return out


def load_model(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    vocabulary: Vocabulary | None = None,
    allow_new_vocabulary: bool = False,
) -> tuple[Any, Vocabulary]:
    """Load a CLIP-RT model onto ``device``; returns ``(model in eval mode, vocabulary)``.

    ``vocabulary`` defaults to the checkpoint's own; a different one raises
    :class:`VocabularyMismatchError` (see :func:`check_vocabulary`). The
    open_clip weights are never downloaded: the checkpoint holds them all.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from cliprt_agents.devices import resolve_device
    from cliprt_agents.model import build_model
    from cliprt_agents.preprocess import PreprocessSpec

    device = resolve_device(device)  # before any work: a missing GPU is reported as such
    model_dir = resolve_model_dir(path)
    data = read_config(model_dir)
    try:
        config = ModelConfig.from_dict(data["model"])
        saved_vocab = Vocabulary.from_dict(data["vocabulary"])
        spec = PreprocessSpec(
            **{**data["preprocess"], "mean": tuple(data["preprocess"]["mean"]), "std": tuple(data["preprocess"]["std"])}
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{str(model_dir / CONFIG_FILE)!r} is damaged: {exc}") from None
    if vocabulary is not None:
        check_vocabulary(saved_vocab, vocabulary, variant=config.variant, allow_new=allow_new_vocabulary, where=str(model_dir))
    _check_text_tower(config, data, model_dir)
    weights = model_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{str(weights)!r} is missing; the checkpoint is incomplete")
    model = build_model(
        config, saved_vocab, load_pretrained=False, preprocess=spec, action_token_ids=data.get("action_token_ids")
    )
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{str(weights)!r} is damaged or not a safetensors file ({exc}); use another checkpoint") from None
    load_state(model, state, weights)
    model.to(device)
    model.eval()
    return model, (vocabulary if vocabulary is not None else saved_vocab)


def _trained_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict without a frozen sentence encoder (it comes from its own package) and without tied duplicates."""
    from cliprt_agents.sentence_tower import frozen_prefixes

    frozen = frozen_prefixes(model)
    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in model.state_dict().items():
        if key.startswith(frozen) or value.data_ptr() in seen:
            continue
        seen.add(value.data_ptr())
        tensors[key] = value.detach().cpu().contiguous()
    return tensors


def _sentence_towers(config: ModelConfig) -> list[tuple[str, str]]:
    """``(what, tower)`` for each frozen sentence encoder of ``config``: its text tower, its instruction tower."""
    towers = (("text", config.text_tower, "own"), ("instruction", config.instruction_tower, "same"))
    return [(what, tower) for what, tower, default in towers if tower != default]


def _check_text_tower(config: ModelConfig, data: dict[str, Any], model_dir: Path) -> None:
    """A checkpoint trained on one sentence encoder refuses another (its projection would be meaningless)."""
    from cliprt_agents.sentence_tower import encoder_fingerprint, encoder_folder

    for what, tower in _sentence_towers(config):
        saved = data.get(f"{what}_tower_fingerprint")
        if saved is None:
            continue
        installed = encoder_fingerprint(encoder_folder(tower))
        if installed != saved:
            raise CheckpointError(
                f"{str(model_dir)!r} was trained on {what} tower {tower!r} with weights {saved}, but the "
                f"installed one has {installed}; install the encoder it was trained with"
            )


def load_state(model: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Load ``state`` into ``model``; any tensor missing, unexpected or of another shape is an error."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    from cliprt_agents.sentence_tower import frozen_prefixes

    frozen = frozen_prefixes(model)
    missing = [k for k in missing if not k.startswith(frozen)]
    # safetensors' save_model drops tied duplicates; those come back through the tie.
    missing = [k for k in missing if not _is_tied(model, k, state)]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing tensors (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[:3]})")
        if shapes:
            parts.append(f"shape mismatches (e.g. {shapes[:3]})")
        raise CheckpointError(f"{str(source)!r} does not fit the model in its config.json: " + "; ".join(parts))
    model.load_state_dict(state, strict=False)


def _is_tied(model: torch.nn.Module, key: str, state: dict[str, torch.Tensor]) -> bool:
    params = dict(model.state_dict(keep_vars=True))
    target = params[key]
    return any(k in state and v.data_ptr() == target.data_ptr() for k, v in params.items() if k != key)


# -- optimiser and trainer state --------------------------------------------------
def optimizer_to_safetensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser's state dict into tensors (for safetensors) and JSON-able metadata."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in sd["state"].items():
        for name, value in st.items():
            if torch.is_tensor(value):
                tensors[f"state.{pid}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[name] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_from_safetensors(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if not key.startswith("state."):
            continue
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = value
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    return {"state": state, "param_groups": groups}


def save_training_checkpoint(
    run_dir: Path,
    step: int,
    *,
    model: Any,
    vocabulary: Vocabulary,
    optimizer: torch.optim.Optimizer,
    trainer_state: dict[str, Any],
    extra_tensors: dict[str, torch.Tensor] | None = None,
    keep: int = 2,
    extra_config: dict[str, Any] | None = None,
) -> Path:
    """Write a resumable checkpoint atomically, point ``latest.json`` at it, prune old ones."""
    from safetensors.torch import save_file

    ckpt_root = run_dir / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    name = f"step_{step:07d}"
    tmp = ckpt_root / f".tmp-{name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    save_model(model, tmp, vocabulary, extra_config)
    tensors, meta = optimizer_to_safetensors(optimizer)
    for key, value in (extra_tensors or {}).items():
        tensors[f"extra.{key}"] = value.detach().cpu().contiguous()
    save_file(tensors, str(tmp / OPTIMIZER_FILE), metadata={"format": FORMAT})
    write_json_atomic(tmp / STATE_FILE, {**trainer_state, "optimizer": meta, "step": step})
    final = ckpt_root / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_json_atomic(run_dir / LATEST_FILE, {"checkpoint": str(final.relative_to(run_dir)), "step": step})
    done = sorted(p for p in ckpt_root.iterdir() if p.is_dir() and p.name.startswith("step_"))
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The checkpoint named by ``latest.json`` (falling back to the newest complete ``step_*``)."""
    run = Path(run_dir)
    pointer = run / LATEST_FILE
    if pointer.is_file():
        try:
            target = run / json.loads(pointer.read_text())["checkpoint"]
            if (target / STATE_FILE).is_file():
                return target
        except (json.JSONDecodeError, KeyError, TypeError):
            pass
    root = run / "checkpoints"
    if root.is_dir():
        complete = sorted(p for p in root.iterdir() if p.name.startswith("step_") and (p / STATE_FILE).is_file())
        if complete:
            return complete[-1]
    return None


def load_training_checkpoint(ckpt: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    """``(model tensors, optimiser/extra tensors, trainer state)`` of a training checkpoint."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = json.loads((ckpt / STATE_FILE).read_text())
        model_tensors = load_file(str(ckpt / WEIGHTS_FILE))
        opt_tensors = load_file(str(ckpt / OPTIMIZER_FILE))
    except (OSError, json.JSONDecodeError, SafetensorError) as exc:
        raise CheckpointError(
            f"cannot resume from {str(ckpt)!r}: {exc}. Delete that folder to resume from an older one, or pass --overwrite"
        ) from None
    return model_tensors, opt_tensors, state


def finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
