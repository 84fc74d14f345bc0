"""The CLIP-RT authors' CLIP-RT+ action decoder, in the layout of their open_clip fork's state dict.

Read from their fork's ``CLIP`` with ``use_action_decoder=True`` (facts, not
code): a second text tower ``text2`` (context 2 + 8 x 7 = 58, no causal mask,
no pooling) reads ``[unit image embedding, unit prompt embedding, 56
embeddings of token id 0]`` plus learned positions; its final LayerNorm and
``text_projection`` apply to every position; the first two positions are
dropped, the rest regrouped as 8 actions of 7 x embed_dim features, and
``action_head`` (OpenVLA-OFT's MLPResNet: LayerNorm, Linear, ReLU, 2
pre-norm residual blocks, LayerNorm, Linear) gives 7 numbers each.

Their checkpoints store the decoder as ``text2.*`` (and the same tensors again
under the aliases ``transformer2.*``, ``token_embedding2.*``,
``positional_embedding2``, ``ln_final2.*``, ``text_projection2``) and
``action_head.{layer_norm1,fc1,mlp_resnet_blocks,layer_norm2,fc2}``; the
first text tower appears as ``text.*`` besides the plain CLIP names.
:func:`split_authors_state` turns such a state dict into the CLIP part and
this module's state.
"""

from __future__ import annotations

import torch
from torch import nn

from cliprt_agents.model import MLPResNet, TextTowerShape

#: Keys that mark the authors' layout.
HEAD_PREFIX = "action_head."
TOWER_PREFIX = "text2."
#: Their aliases of ``text2``'s parts (the same tensors under a second name) -> the name inside ``text2``.
ALIASES = {
    "transformer2.": "transformer.",
    "token_embedding2.": "token_embedding.",
    "positional_embedding2": "positional_embedding",
    "ln_final2.": "ln_final.",
    "text_projection2": "text_projection",
}
#: Their MLPResNet's names -> ours (cliprt_agents.model.MLPResNet); the blocks' ``ffn.*`` are the same.
HEAD_NAMES = {
    "layer_norm1.": "norm_in.",
    "fc1.": "fc_in.",
    "mlp_resnet_blocks.": "blocks.",
    "layer_norm2.": "norm_out.",
    "fc2.": "fc_out.",
}
#: The first text tower again, under ``text.`` (upstream open_clip's CLIP names it without the prefix).
DUPLICATE_PREFIX = "text."


class AuthorsActionDecoder(nn.Module):
    """``(image_emb, prompt_emb)`` (unit vectors) -> ``(B, chunk, action_dim)``, as the authors' model computes it."""

    def __init__(
        self, embed_dim: int, shape: TextTowerShape, vocab_size: int, chunk_size: int = 8, action_dim: int = 7, pad_id: int = 0
    ) -> None:
        super().__init__()
        from open_clip.transformer import QuickGELU, Transformer

        if shape.width != embed_dim:
            raise ValueError(f"the authors' decoder needs text width == embed_dim; got {shape.width} and {embed_dim}")
        self.chunk_size, self.action_dim, self.pad_id = chunk_size, action_dim, pad_id
        n_tokens = 2 + chunk_size * action_dim
        self.token_embedding = nn.Embedding(vocab_size, shape.width)
        self.positional_embedding = nn.Parameter(torch.zeros(n_tokens, shape.width))
        act = QuickGELU if shape.quick_gelu else nn.GELU
        self.transformer = Transformer(shape.width, shape.layers, shape.heads, shape.mlp_ratio, act_layer=act)
        self.ln_final = nn.LayerNorm(shape.width)
        self.text_projection = nn.Parameter(torch.empty(shape.width, embed_dim))
        nn.init.normal_(self.text_projection, std=shape.width**-0.5)
        self.head = MLPResNet(action_dim * embed_dim, embed_dim, action_dim, blocks=2)

    def forward(self, image_emb: torch.Tensor, prompt_emb: torch.Tensor) -> torch.Tensor:
        b = image_emb.shape[0]
        pads = torch.full((b, self.chunk_size * self.action_dim), self.pad_id, device=image_emb.device, dtype=torch.long)
        dtype = self.positional_embedding.dtype
        x = torch.cat([image_emb[:, None].to(dtype), prompt_emb[:, None].to(dtype), self.token_embedding(pads)], dim=1)
        x = self.transformer(x + self.positional_embedding, attn_mask=None)  # no mask: every token sees every token
        x = self.ln_final(x) @ self.text_projection
        return self.head(x[:, 2:].reshape(b, self.chunk_size, -1))


def is_authors_layout(state: dict[str, torch.Tensor]) -> bool:
    return any(k.startswith(HEAD_PREFIX) for k in state)


def split_authors_state(
    state: dict[str, torch.Tensor], clip_keys: set[str]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], list[str]]:
    """``(CLIP part, decoder part for AuthorsActionDecoder, keys that fit neither)``."""
    clip_part: dict[str, torch.Tensor] = {}
    tower: dict[str, torch.Tensor] = {}
    aliased: dict[str, torch.Tensor] = {}
    head: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state.items():
        alias = next((a for a in ALIASES if key.startswith(a)), None)
        if key in clip_keys:
            clip_part[key] = value
        elif key.startswith(TOWER_PREFIX):
            tower[key[len(TOWER_PREFIX) :]] = value
        elif alias is not None:
            aliased[ALIASES[alias] + key[len(alias) :]] = value
        elif key.startswith(HEAD_PREFIX):
            name = key[len(HEAD_PREFIX) :]
            old = next((n for n in HEAD_NAMES if name.startswith(n)), None)
            head["head." + (HEAD_NAMES[old] + name[len(old) :] if old else name)] = value
        elif not key.startswith(DUPLICATE_PREFIX):
            unknown.append(key)
    decoder = {**aliased, **tower, **head}  # text2.* wins where both names are stored
    decoder.pop("attn_mask", None)
    return clip_part, decoder, sorted(unknown)
