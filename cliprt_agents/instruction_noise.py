"""Gaussian noise on the instruction's embedding during training (``TrainConfig.instruction_noise``).

The pretraining corpus and the demonstrations word each task a few ways, so
the policy learns to read the embeddings of those few phrasings. An
instruction worded otherwise lands near them but not on them (in the shipped
checkpoint, Pick's held-out phrasings sit at cosine 0.88-0.95 to its training
phrasings, which sit at 0.99 to each other), and a policy that never saw such an offset
can answer it with another motion. Training with the embedding moved by
random noise of a set size teaches it to answer the same within that
distance. In high dimension almost all of the noise is orthogonal to the
few directions that tell one task or object from another, so those stay
readable.
"""

from __future__ import annotations

import torch


def relative_noise(emb: torch.Tensor, scale: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``emb`` (rows) plus Gaussian noise whose expected norm is ``scale`` times each row's norm."""
    if scale <= 0:
        return emb
    noise = torch.randn(emb.shape, generator=generator, dtype=torch.float32).to(emb.device)
    norms = emb.detach().float().norm(dim=-1, keepdim=True)
    return emb + (scale * norms * noise / emb.shape[-1] ** 0.5).to(emb.dtype)
