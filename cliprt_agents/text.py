"""Tokenisation helpers: de-duplicated text batches and CLIP-RT-Action's motion tokens.

A training batch repeats a few instructions and a few dozen motion texts many
times; encoding each distinct text once and indexing the result back keeps
the gradient identical and cuts the text tower's work several-fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def unique_tokens(tokenizer: Any, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tokens of each distinct text (U, ctx), index (B,) mapping each text to its row)``."""
    order: dict[str, int] = {}
    index = [order.setdefault(t, len(order)) for t in texts]
    tokens = tokenizer(list(order))
    return tokens.long(), torch.tensor(index, dtype=torch.long)


def placeholder_position(tokenizer: Any) -> int:
    """Index where a one-word text's single token sits (1 for CLIP's ``<sot> word <eot>``)."""
    empty, one = tokenizer([""])[0], tokenizer(["a"])[0]
    diff = (empty != one).nonzero()
    if diff.numel() == 0:
        raise ValueError("cannot find where the tokenizer puts a word; CLIP-RT-Action needs a standard tokenizer")
    return int(diff[0, 0])


def action_token_ids(tokenizer: Any, num_motions: int, vocab_size: int) -> list[int]:
    """Rarely used token ids (the last BPE merges) that stand for motions 0..N-1.

    Like the paper's CLIP-RT-Action (and RT-2/OpenVLA), each motion becomes
    one existing token whose embedding training then repurposes. Ids stay
    below the end-of-text id because CLIP pools the text at the largest id.
    """
    specials = {getattr(tokenizer, name, None) for name in ("sot_token_id", "eot_token_id", "pad_id")}
    upper = vocab_size
    eot = getattr(tokenizer, "eot_token_id", None)
    if isinstance(eot, int) and eot < upper:
        upper = eot
    ids = [i for i in range(upper - 1, 0, -1) if i not in specials][:num_motions]
    if len(ids) < num_motions:
        raise ValueError(f"the text vocabulary ({vocab_size} tokens) is too small for {num_motions} motion tokens")
    return ids


def action_token_table(tokenizer: Any, token_ids: Sequence[int]) -> torch.Tensor:
    """``(N, ctx)`` token rows ``<sot> <motion k> <eot>`` for CLIP-RT-Action."""
    pos = placeholder_position(tokenizer)
    base = tokenizer(["a"])[0].long()
    table = base.repeat(len(token_ids), 1)
    table[:, pos] = torch.tensor(list(token_ids), dtype=torch.long)
    return table
