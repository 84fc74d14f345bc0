"""What training minimises (CIL over the global batch; L1 on action chunks for CLIP-RT+) and how validation scores."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from cliprt_agents.config import ModelConfig, TrainConfig
from cliprt_agents.losses import cil_logits, cil_loss, global_chunk_l1_loss, global_cil_loss, vocabulary_loss
from cliprt_agents.model import CLIPRT, motion_token_rows
from cliprt_agents.optim import autocast, to_device
from cliprt_envs.motions import Vocabulary


def uses_contrastive(model_config: ModelConfig, train_config: TrainConfig) -> bool:
    return model_config.variant != "plus" or train_config.contrastive_weight > 0


def freeze_unused(model: CLIPRT, contrastive: bool) -> None:
    """Stop gradients for parameters the loss never touches.

    DDP (without the slower ``find_unused_parameters``) only averages a
    gradient bucket once every parameter in it has a gradient; an unused
    parameter would leave its bucket un-averaged.
    """
    if getattr(model.clip, "logit_bias", None) is not None:
        model.clip.logit_bias.requires_grad_(False)  # CLIP-RT has no bias term
    if not contrastive:
        model.logit_scale_param.requires_grad_(False)


def compute_loss(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], variant: str, contrastive_weight: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss over the global batch (this rank's share of the gradient).

    A batch with ``vocabulary_tokens`` (``TrainConfig.loss == "vocabulary"``)
    adds the whole-vocabulary cross-entropy to CIL.
    """
    use_cil = variant != "plus" or contrastive_weight > 0
    vocab_tokens = batch.get("vocabulary_tokens") if use_cil else None
    out = model(
        batch["images"],
        batch["prompt_tokens"],
        batch["prompt_index"],
        batch["motion_tokens"] if use_cil else None,
        batch["motion_index"] if use_cil else None,
        vocab_tokens,
        proprio=batch.get("proprio"),
    )
    parts: dict[str, float] = {}
    loss = out["context"].sum() * 0.0
    if variant == "plus":
        loss = global_chunk_l1_loss(out["chunk"], batch["action_chunk"], batch["chunk_mask"])
        parts["l1"] = float(loss.detach())
    if use_cil:
        weight = 1.0 if variant != "plus" else contrastive_weight
        cil = global_cil_loss(out["context"], out["motion"], batch["motion_ids"], out["logit_scale"])
        parts["cil"] = float(cil.detach())
        loss = loss + weight * cil
        if vocab_tokens is not None:
            ce = vocabulary_loss(out["context"], out["vocabulary"], batch["motion_ids"], out["logit_scale"])
            parts["vocab_ce"] = float(ce.detach())
            loss = loss + weight * ce
    return loss, parts


@torch.no_grad()
def evaluate(
    model: CLIPRT,
    loader: DataLoader,
    vocabulary: Vocabulary,
    device: torch.device,
    dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Held-out action accuracy (argmax over the whole vocabulary) and losses."""
    model.eval()
    variant = model.config.variant
    motion_emb = None
    if variant != "plus":
        with autocast(device, dtype):
            motion_emb = model.motion_embeddings(motion_token_rows(model, vocabulary).to(device)).float()
    correct = labelled = 0
    loss_sum, loss_n = 0.0, 0
    l1_sum, l1_count = 0.0, 0.0
    for batch in loader:
        batch = to_device(batch, device)
        with autocast(device, dtype):
            out = model(
                batch["images"],
                batch["prompt_tokens"],
                batch["prompt_index"],
                batch["motion_tokens"],
                batch["motion_index"],
                proprio=batch.get("proprio"),
            )
        ids = batch["motion_ids"]
        if motion_emb is not None:
            scores = cil_logits(out["context"], motion_emb, out["logit_scale"])
            pred = scores.argmax(dim=-1)
            known = ids >= 0
            correct += int((pred[known] == ids[known]).sum())
            labelled += int(known.sum())
            if ids.shape[0] > 1:
                loss_sum += float(cil_loss(out["context"], out["motion"], ids, out["logit_scale"])) * ids.shape[0]
                loss_n += ids.shape[0]
        if variant == "plus":
            mask = batch["chunk_mask"].unsqueeze(-1).expand_as(out["chunk"]).float()
            l1_sum += float(((out["chunk"].float() - batch["action_chunk"]).abs() * mask).sum())
            l1_count += float(mask.sum())
    result: dict[str, float] = {}
    if labelled:
        result["val_accuracy"] = correct / labelled
    if loss_n:
        result["val_loss"] = loss_sum / loss_n
    if l1_count:
        result["val_l1"] = l1_sum / l1_count
    return result
