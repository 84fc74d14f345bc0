"""Contrastive imitation learning (CIL), the whole-vocabulary term, and CLIP-RT+'s chunk regression loss.

CIL (as in the CLIP-RT paper): binary cross-entropy with logits over the
``B x B`` matrix ``exp(t) * c @ z.T``, label 1 where ``i == j`` or the two
samples share a low-level action (here: the same motion id), averaged over
all ``B * B`` entries.

Several processes: every rank gathers the contexts, motion embeddings and
motion ids of all ranks, puts its own *live* tensors in its slot (so its
gradients flow), and computes the loss of the global matrix. Each rank then
holds the gradient of the global loss with respect to its own samples only;
DDP averages gradients over ranks, so the trainer multiplies the loss by the
world size before ``backward`` and the update equals the single-process
update on the same global batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.nn.functional as F


def cil_labels(motion_ids: torch.Tensor) -> torch.Tensor:
    """``(B, B)`` float labels: 1 on the diagonal and between samples with the same motion id.

    Negative ids mean "no known low-level action": such a sample is only
    positive with itself.
    """
    ids = motion_ids.reshape(-1)
    same = (ids[:, None] == ids[None, :]) & (ids[:, None] >= 0)
    eye = torch.eye(ids.shape[0], dtype=torch.bool, device=ids.device)
    return (same | eye).float()


def cil_logits(context: torch.Tensor, motion: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """``exp(t) * c @ z.T`` in fp32 (features are L2-normalised; ``logit_scale`` is already ``exp(t)``)."""
    return logit_scale.float() * context.float() @ motion.float().T


def cil_loss(context: torch.Tensor, motion: torch.Tensor, motion_ids: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Mean BCE-with-logits over every (context i, supervision j) pair of the batch."""
    logits = cil_logits(context, motion, logit_scale)
    labels = cil_labels(motion_ids.to(logits.device))
    return F.binary_cross_entropy_with_logits(logits, labels, reduction="mean")


def distributed_world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_with_local_grad(tensor: torch.Tensor) -> torch.Tensor:
    """All ranks' ``tensor`` concatenated in rank order, this rank's slot still differentiable.

    Every rank must pass the same shape (the trainer's sampler guarantees it).
    """
    rank, world = distributed_world()
    if world == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world)]
    dist.all_gather(parts, tensor.detach().contiguous())
    parts[rank] = tensor
    return torch.cat(parts, dim=0)


class _GatherSummingGradients(torch.autograd.Function):
    """All ranks' equal-shaped ``tensor`` concatenated; backward sums the gradient over ranks, keeps this rank's rows."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        rank, world = distributed_world()
        parts = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(parts, tensor.contiguous())
        ctx.rows = (rank * tensor.shape[0], (rank + 1) * tensor.shape[0])
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)  # every rank's loss reaches the rows this rank encoded
        return grad[ctx.rows[0] : ctx.rows[1]]


def encode_shared_rows(encode: Callable[[torch.Tensor], torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
    """``encode(rows)`` for rows every rank holds alike (the vocabulary), each rank encoding its share.

    With one process it is ``encode(rows)``. Under DDP each rank encodes
    ``ceil(N / world)`` rows and the shares are gathered; the backward pass
    sums each share's gradient over the ranks, so after DDP's averaging the
    update is the same as when every rank encodes all rows.
    """
    _, world = distributed_world()
    n = rows.shape[0]
    if world == 1 or n < world:
        return encode(rows)
    rank = dist.get_rank()
    per = math.ceil(n / world)
    padded = torch.cat([rows, rows[:1].expand(per * world - n, *rows.shape[1:])]) if per * world > n else rows
    return _GatherSummingGradients.apply(encode(padded[rank * per : (rank + 1) * per]))[:n]


def global_cil_loss(
    context: torch.Tensor, motion: torch.Tensor, motion_ids: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """:func:`cil_loss` over the batch of every process (equal to it with one process).

    The logit scale is shared, not per-sample: every rank already holds its
    full gradient, so its gradient is divided by the world size here to
    cancel the trainer's world-size factor (the value is unchanged).
    """
    _, world = distributed_world()
    if world > 1:
        logit_scale = logit_scale / world + (logit_scale * (1.0 - 1.0 / world)).detach()
    return cil_loss(
        gather_with_local_grad(context),
        gather_with_local_grad(motion),
        gather_with_local_grad(motion_ids),
        logit_scale,
    )


def vocabulary_loss(
    context: torch.Tensor, vocabulary: torch.Tensor, motion_ids: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy of each sample's motion against *every* motion of the vocabulary.

    The policy ranks the whole vocabulary, so every motion must learn where it
    stands, also those that never occur as labels (in-batch CIL never sees
    them, not even as negatives). Samples without a known motion (id < 0) do
    not count. Each process averages over its own samples and divides by the
    world size, so with the trainer's world-size factor and DDP's averaging
    the update is that of the mean over the global batch.
    """
    ids = motion_ids.reshape(-1).to(context.device)
    known = ids >= 0
    if not bool(known.any()):
        return context.sum() * 0.0
    logits = cil_logits(context[known], vocabulary, logit_scale)
    _, world = distributed_world()
    return F.cross_entropy(logits, ids[known]) / world


def chunk_l1_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the valid steps of each action chunk (steps past the episode end masked)."""
    m = mask.to(pred.dtype).unsqueeze(-1).expand_as(pred)
    denom = m.sum().clamp_min(1.0)
    return ((pred.float() - target.float()).abs() * m).sum() / denom


def global_chunk_l1_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """:func:`chunk_l1_loss` averaged over the valid steps of every process's batch.

    Like :func:`global_cil_loss`, every rank gets the value of the global
    loss, with gradients flowing only to its own samples (the trainer's
    world-size factor and DDP's averaging make the update global).
    """
    _, world = distributed_world()
    m = mask.to(pred.dtype).unsqueeze(-1).expand_as(pred)
    local_sum = ((pred.float() - target.float()).abs() * m).sum()
    count = m.sum().detach()
    if world > 1:
        count = count.clone()
        dist.all_reduce(count)
        total = local_sum.detach().clone()
        dist.all_reduce(total)
        # Other ranks' terms enter as constants: the value is global, the gradient local.
        return (local_sum + (total - local_sum.detach())) / count.clamp_min(1.0)
    return local_sum / count.clamp_min(1.0)
