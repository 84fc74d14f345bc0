"""CLIP-RT, CLIP-RT-Action and CLIP-RT+ on top of any open_clip model.

CLIP-RT adds no parameters to CLIP (as in the CLIP-RT paper)::

    c = normalize(f(image) + g(prompt(instruction)))     context
    z = normalize(g(motion text))                        one per motion
    logits = exp(logit_scale) * c @ z.T                   logit_scale <= ln 100

CLIP-RT-Action feeds ``<sot> <motion token> <eot>`` instead of the motion's
words (one rarely used BPE token per motion, learned in training).
CLIP-RT+ (section 7) adds an action decoder shaped like the text tower.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cliprt_agents.config import TINY_CONV_MODEL, ModelConfig
from cliprt_agents.preprocess import PreprocessSpec
from cliprt_envs.motions import Vocabulary

#: CLIP's cap on the learned temperature.
MAX_LOGIT_SCALE = math.log(100.0)


class MLPResNetBlock(nn.Module):
    """Pre-norm residual MLP block (the OpenVLA-OFT action head's building block)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.ffn = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ffn(x)


class MLPResNet(nn.Module):
    """``in -> hidden -> blocks -> out`` residual MLP used as CLIP-RT+'s regression head."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, blocks: int = 2) -> None:
        super().__init__()
        self.norm_in = nn.LayerNorm(in_dim)
        self.fc_in = nn.Linear(in_dim, hidden)
        self.blocks = nn.ModuleList(MLPResNetBlock(hidden) for _ in range(blocks))
        self.norm_out = nn.LayerNorm(hidden)
        self.fc_out = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc_in(self.norm_in(x)))
        for block in self.blocks:
            x = block(x)
        return self.fc_out(self.norm_out(x))


#: The length of an observation's ``proprio`` (tool position, quaternion, gripper opening).
PROPRIO_DIM = 8
#: What a proprio input is multiplied by first: positions in decimetres, the rest as they are.
PROPRIO_INPUT_SCALE = (10.0, 10.0, 10.0, 1.0, 1.0, 1.0, 1.0, 1.0)


def proprio_rows(values: Any, batch: int) -> np.ndarray:
    """An observation's or batch's ``proprio`` as ``(batch, 8)`` float32 rows (one per image)."""
    rows = np.asarray(values, dtype=np.float32).reshape(-1, PROPRIO_DIM)
    if rows.shape[0] != batch:
        raise ValueError(f"{batch} images but {rows.shape[0]} proprio rows")
    return rows


class ProprioEncoder(nn.Module):
    """``(B, 8)`` proprioception -> ``(B, embed_dim)``, added to the image embedding.

    Positions are read in decimetres (1 cm is 0.1), so the centimetre moves
    of the vocabulary are visible at the first layer's scale. The last layer
    starts at zero: a model gains the input without its outputs changing until
    training moves that layer.
    """

    def __init__(self, embed_dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.register_buffer("input_scale", torch.tensor(PROPRIO_INPUT_SCALE), persistent=False)
        self.net = nn.Sequential(nn.Linear(PROPRIO_DIM, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.out = nn.Linear(hidden, embed_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, proprio: torch.Tensor) -> torch.Tensor:
        if proprio.ndim != 2 or proprio.shape[1] != PROPRIO_DIM:
            raise ValueError(f"proprio must be (B, {PROPRIO_DIM}), got {tuple(proprio.shape)}")
        return self.out(self.net(proprio.to(self.out.weight.dtype) * self.input_scale.to(self.out.weight.dtype)))


@dataclass(frozen=True)
class TextTowerShape:
    width: int
    layers: int
    heads: int
    mlp_ratio: float
    quick_gelu: bool


class ActionDecoder(nn.Module):
    """CLIP-RT+'s parallel decoder: ``[image, instruction, K*D empty tokens]`` -> ``(K, D)`` actions.

    A non-causal transformer shaped like the text tower reads the two CLIP
    embeddings and ``K*D`` zero tokens (plus learned positions); the first two
    outputs are dropped, the rest regrouped into ``K`` chunks of ``D`` tokens
    and a residual MLP maps each chunk's ``D*width`` features to ``D`` numbers.
    All ``K`` actions come out of one pass.
    """

    def __init__(self, embed_dim: int, shape: TextTowerShape, chunk_size: int, action_dim: int, head_blocks: int) -> None:
        super().__init__()
        from open_clip.transformer import QuickGELU, Transformer

        self.chunk_size = chunk_size
        self.action_dim = action_dim
        width = shape.width
        self.in_proj = nn.Linear(embed_dim, width)
        n_tokens = 2 + chunk_size * action_dim
        self.positional_embedding = nn.Parameter(torch.randn(n_tokens, width) * 0.01)
        act = QuickGELU if shape.quick_gelu else nn.GELU
        self.transformer = Transformer(width, shape.layers, shape.heads, shape.mlp_ratio, act_layer=act)
        self.ln_final = nn.LayerNorm(width)
        self.head = MLPResNet(action_dim * width, width, action_dim, head_blocks)

    def forward(self, image_emb: torch.Tensor, instruction_emb: torch.Tensor) -> torch.Tensor:
        b = image_emb.shape[0]
        cond = self.in_proj(torch.stack([image_emb, instruction_emb], dim=1).to(self.in_proj.weight.dtype))
        empty = cond.new_zeros(b, self.chunk_size * self.action_dim, cond.shape[-1])
        x = torch.cat([cond, empty], dim=1) + self.positional_embedding.to(cond.dtype)
        x = self.transformer(x, attn_mask=None)  # no mask: every token sees every token
        x = self.ln_final(x[:, 2:])
        x = x.reshape(b, self.chunk_size, self.action_dim * x.shape[-1])
        return self.head(x)


def encode_text_trimmed(clip: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """``clip.encode_text(tokens)``, computed on the tokens up to the longest row's end where exact.

    Exact for open_clip's built-in causal text tower with argmax (end-of-text)
    pooling; any other text tower gets the full rows.
    """
    from open_clip.transformer import text_global_pool

    mask = getattr(clip, "attn_mask", None)
    causal_argmax = getattr(clip, "text_pool_type", None) == "argmax" and mask is not None
    if not causal_argmax or tokens.ndim != 2 or not hasattr(clip, "token_embedding"):
        return clip.encode_text(tokens)
    length = int((tokens != 0).sum(dim=1).max().clamp_min(1))
    length = max(length, int(tokens.argmax(dim=1).max()) + 1)
    tokens = tokens[:, :length]
    cast = clip.transformer.get_cast_dtype()
    x = clip.token_embedding(tokens).to(cast) + clip.positional_embedding[:length].to(cast)
    x = clip.ln_final(clip.transformer(x, attn_mask=mask[:length, :length]))
    x = text_global_pool(x, tokens, "argmax", eos_token_id=getattr(clip, "text_eos_id", None))
    projection = clip.text_projection
    if projection is None:
        return x
    return projection(x) if isinstance(projection, nn.Linear) else x @ projection


def text_tower_shape(architecture: dict[str, Any], clip: nn.Module) -> TextTowerShape:
    """Width/depth/heads of the CLIP text tower, from open_clip's config or the built model."""
    text_cfg = dict(architecture.get("text_cfg", {}))
    transformer = getattr(clip, "transformer", None)
    width = text_cfg.get("width") or getattr(transformer, "width", None) or 512
    layers = text_cfg.get("layers") or getattr(transformer, "layers", None) or 12
    heads = text_cfg.get("heads") or max(1, int(width) // 64)
    return TextTowerShape(
        int(width), int(layers), int(heads), float(text_cfg.get("mlp_ratio", 4.0)), bool(architecture.get("quick_gelu", False))
    )


def action_scale_for(vocabulary: Vocabulary, indices: Sequence[int]) -> torch.Tensor:
    """Per-dim scale that brings actions to about [-1, 1]: the vocabulary's largest moves.

    Data-independent on purpose, so a checkpoint's normalisation is known
    without the training set.
    """
    pos = max(vocabulary.position_magnitudes, default=1.0)
    rot = max(vocabulary.rotation_magnitudes, default=1.0)
    full = np.array([pos, pos, pos, rot, rot, rot, rot, 1.0], dtype=np.float32)
    return torch.from_numpy(full[list(indices)].copy())


def conv_tower_of(config: ModelConfig, clip: nn.Module, option: str) -> Any:
    """``clip``'s CNN image tower, which ``option`` (a ModelConfig switch) needs; a ValueError for any other tower."""
    from cliprt_agents.conv_tower import ConvImageTower

    if not isinstance(clip.visual, ConvImageTower):
        raise ValueError(f"{option} works on the CNN image tower of {TINY_CONV_MODEL}; {config.backbone} has another")
    return clip.visual


def film_for(config: ModelConfig, clip: nn.Module, embed_dim: int) -> nn.Module | None:
    """The instruction's modulation of the image tower (``ModelConfig.film``), or None."""
    if not config.film:
        return None
    from cliprt_agents.conv_tower import FiLM

    return FiLM(embed_dim, conv_tower_of(config, clip, "film").widths)


#: Where the image tower's keypoints sit in a CLIP-RT state dict (a checkpoint without them starts them fresh).
KEYPOINTS_PREFIX = "clip.visual.keypoints."


def fuse(image_emb: torch.Tensor, prompt_emb: torch.Tensor, fusion: str = "sum") -> torch.Tensor:
    """``normalize(image + prompt)`` (the paper), or with ``"product"`` plus ``sqrt(D) * i * p`` on unit vectors."""
    if fusion == "sum":
        return F.normalize(image_emb + prompt_emb, dim=-1)
    if fusion == "product":
        i, p = F.normalize(image_emb, dim=-1), F.normalize(prompt_emb, dim=-1)
        return F.normalize(i + p + math.sqrt(i.shape[-1]) * i * p, dim=-1)
    raise ValueError(f"unknown fusion {fusion!r}")


class CLIPRT(nn.Module):
    """A CLIP model used as a policy over language motions (and, for ``plus``, continuous chunks).

    ``clip`` is an open_clip model; ``action_scale`` is only used by ``plus``.
    The tokenizer, preprocessing spec and CLIP-RT-Action token table travel
    with the module so that a checkpoint is self-contained.
    """

    def __init__(
        self,
        config: ModelConfig,
        clip: nn.Module,
        *,
        tokenizer: Any,
        preprocess: PreprocessSpec,
        architecture: dict[str, Any],
        embed_dim: int,
        action_token_ids: Sequence[int] | None = None,
        action_scale: torch.Tensor | None = None,
        instruction_encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.clip = clip
        self.tokenizer = tokenizer
        self.preprocess = preprocess
        self.architecture = architecture
        self.embed_dim = embed_dim
        self.action_token_ids = list(action_token_ids) if action_token_ids is not None else None
        self.decoder: ActionDecoder | None = None
        self.proprio_encoder = ProprioEncoder(embed_dim) if config.proprio else None
        self.film = film_for(config, clip, embed_dim)
        if config.keypoints:
            conv_tower_of(config, clip, "keypoints").add_keypoints()
        self.text_cache: Any = None  # a frozen sentence encoder's pooled features (sentence_tower.py)
        #: Training only, set by the trainer (TrainConfig.instruction_noise): noise on the prompt embeddings in forward.
        self.instruction_noise = 0.0
        # Prompts through their own frozen sentence encoder (ModelConfig.instruction_tower), motions through clip's text tower.
        self.instruction_encoder = instruction_encoder
        self.prompt_tokenizer = instruction_encoder.tokenizer if instruction_encoder is not None else tokenizer
        if config.text_tower != "own":
            from cliprt_agents.sentence_tower import PooledFeatureCache, freeze

            freeze(clip.text)
            self.text_cache = PooledFeatureCache()
        if config.variant == "plus":
            shape = text_tower_shape(architecture, clip)
            self.decoder = ActionDecoder(embed_dim, shape, config.chunk_size, config.action_dim, config.head_blocks)
            scale = action_scale if action_scale is not None else torch.ones(config.action_dim)
            self.register_buffer("action_scale", scale.float().clone())
        if config.variant == "action_tokens" and not self.action_token_ids:
            raise ValueError("the action_tokens variant needs action_token_ids")

    # -- parts --------------------------------------------------------------
    @property
    def logit_scale_param(self) -> nn.Parameter:
        return self.clip.logit_scale

    def logit_scale(self) -> torch.Tensor:
        """``exp(logit_scale)`` with the learned value capped at ln 100."""
        return self.clip.logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """The image tower's embedding (a ``film`` model's tower also needs the instruction: :meth:`encode_observation`)."""
        if self.film is not None:
            raise ValueError("this CLIP-RT model's image tower reads the instruction (film): use encode_observation")
        return self.clip.encode_image(images)

    def encode_observation(
        self, images: torch.Tensor, proprio: torch.Tensor | None = None, prompt_emb: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The image side of the context: the image embedding, plus the proprioception's for a ``proprio`` model.

        A ``film`` model's image tower also reads the instruction: pass its ``prompt_emb`` (one row per image).
        """
        if self.film is None:
            image_emb = self.clip.encode_image(images)
        elif prompt_emb is None:
            raise ValueError("this CLIP-RT model's image tower reads the instruction (film): pass prompt_emb")
        else:
            image_emb = self.clip.visual(images, film=self.film(prompt_emb.to(images.device)))
        if self.proprio_encoder is None:
            return image_emb
        if proprio is None:
            raise ValueError("this CLIP-RT model reads proprioception: pass the observation's 'proprio' (B, 8)")
        return image_emb + self.proprio_encoder(proprio.to(image_emb.device)).to(image_emb.dtype)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """Text embeddings; token rows are cut after their longest text first where that is exact.

        Motion texts and prompts fill 10-30 of CLIP's 77 token slots. In a
        causal text tower pooled at the end-of-text token, the padding after
        it never reaches the pooled output, so cutting it changes nothing but
        the time (the text tower costs 3-5x less per step).
        """
        if self.text_cache is not None:
            from cliprt_agents.sentence_tower import encode_with_cache

            return encode_with_cache(self.clip.text, tokens, self.text_cache)
        return encode_text_trimmed(self.clip, tokens)

    def encode_prompt(self, tokens: torch.Tensor) -> torch.Tensor:
        """Prompt embeddings, from rows of :attr:`prompt_tokenizer` (the instruction encoder's, or the text tower's)."""
        if self.instruction_encoder is not None:
            return self.instruction_encoder(tokens)
        return self.encode_text(tokens)

    def context(self, image_emb: torch.Tensor, prompt_emb: torch.Tensor) -> torch.Tensor:
        """The unit context vector that motions are scored against (``ModelConfig.fusion``)."""
        return fuse(image_emb, prompt_emb, self.config.fusion)

    def motion_embeddings(self, motion_tokens: torch.Tensor) -> torch.Tensor:
        """L2-normalised embeddings of motion token rows (texts or CLIP-RT-Action tokens)."""
        return F.normalize(self.encode_text(motion_tokens), dim=-1)

    def decode_actions(self, image_emb: torch.Tensor, prompt_emb: torch.Tensor) -> torch.Tensor:
        """CLIP-RT+: ``(B, K, D)`` actions in normalised units (multiply by ``action_scale`` for metres/radians)."""
        if self.decoder is None:
            raise RuntimeError("this CLIP-RT model has no action decoder (variant is not 'plus')")
        return self.decoder(image_emb, prompt_emb)

    def _batch_motions(
        self, motion_tokens: torch.Tensor, vocabulary_tokens: torch.Tensor | None, vocab_emb: torch.Tensor | None
    ) -> torch.Tensor:
        """Embeddings of a batch's motion rows: vocabulary rows taken from ``vocab_emb``, others encoded."""
        if vocab_emb is None or vocabulary_tokens is None or vocabulary_tokens.shape[1:] != motion_tokens.shape[1:]:
            return self.encode_text(motion_tokens)
        match = (motion_tokens[:, None] == vocabulary_tokens[None]).flatten(2).all(-1)  # (motions, vocabulary)
        known = match.any(dim=1)
        emb = vocab_emb[match.to(torch.int8).argmax(dim=1)]
        if not bool(known.all()):  # paraphrased supervision: texts outside the vocabulary
            emb = emb.clone()
            emb[~known] = self.encode_text(motion_tokens[~known]).to(emb.dtype)
        return emb

    # -- training forward ----------------------------------------------------
    def forward(
        self,
        images: torch.Tensor,
        prompt_tokens: torch.Tensor,
        prompt_index: torch.Tensor,
        motion_tokens: torch.Tensor | None = None,
        motion_index: torch.Tensor | None = None,
        vocabulary_tokens: torch.Tensor | None = None,
        proprio: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Everything the losses need, in one call (so DDP sees one forward).

        Prompts, motion texts and (for the whole-vocabulary loss) every
        motion of the vocabulary go through the text tower as distinct token
        rows; ``*_index`` maps each sample to its row. The vocabulary's rows
        are shared out among DDP ranks (each encodes its share), and a batch
        motion text that is a vocabulary row takes that row's embedding.
        """
        prompt_emb = self.encode_prompt(prompt_tokens)
        if self.training and self.instruction_noise > 0:
            from cliprt_agents.instruction_noise import relative_noise

            prompt_emb = relative_noise(prompt_emb, self.instruction_noise)
        prompt_emb = prompt_emb[prompt_index]
        image_emb = self.encode_observation(images, proprio, prompt_emb)
        out = {"context": self.context(image_emb, prompt_emb), "logit_scale": self.logit_scale()}
        vocab_emb = None
        if vocabulary_tokens is not None:
            from cliprt_agents.losses import encode_shared_rows

            vocab_emb = encode_shared_rows(self.encode_text, vocabulary_tokens)
            out["vocabulary"] = F.normalize(vocab_emb, dim=-1)
        if motion_tokens is not None and motion_index is not None:
            motion_emb = self._batch_motions(motion_tokens, vocabulary_tokens, vocab_emb)
            out["motion"] = F.normalize(motion_emb, dim=-1)[motion_index]
        if self.decoder is not None:
            out["chunk"] = self.decoder(image_emb, prompt_emb)
        return out


def build_model(
    config: ModelConfig,
    vocabulary: Vocabulary,
    *,
    load_pretrained: bool = True,
    preprocess: PreprocessSpec | None = None,
    action_token_ids: Sequence[int] | None = None,
) -> CLIPRT:
    """Create a CLIP-RT model for ``vocabulary`` (on the CPU, fp32).

    ``load_pretrained=False`` skips the open_clip weights (used when a
    CLIP-RT checkpoint will overwrite them anyway); ``preprocess`` and
    ``action_token_ids`` then come from the checkpoint.
    """
    from cliprt_agents.backbone import create_clip, get_tokenizer, model_architecture
    from cliprt_agents.text import action_token_ids as pick_action_tokens

    pretrained = config.pretrained if load_pretrained else None
    clip, pp_cfg = create_clip(config.backbone, pretrained, image_size=config.image_size, text_tower=config.text_tower)
    tokenizer = get_tokenizer(config.backbone, config.text_tower)
    architecture = model_architecture(config.backbone)
    spec = preprocess if preprocess is not None else PreprocessSpec.from_open_clip(pp_cfg)
    with torch.no_grad():
        probe = clip.encode_text(tokenizer(["a"]))
    embed_dim = int(probe.shape[-1])
    token_ids = None
    if config.variant == "action_tokens":
        vocab_size = int(getattr(clip, "vocab_size", 0) or architecture.get("text_cfg", {}).get("vocab_size", 0))
        if not vocab_size:
            raise ValueError(f"cannot tell the text vocabulary size of {config.backbone}; CLIP-RT-Action needs it")
        token_ids = (
            list(action_token_ids) if action_token_ids is not None else pick_action_tokens(tokenizer, len(vocabulary), vocab_size)
        )
    scale = action_scale_for(vocabulary, config.action_indices) if config.variant == "plus" else None
    instruction_encoder = None
    if config.instruction_tower != "same":
        from cliprt_agents.sentence_tower import InstructionEncoder, encoder_folder

        instruction_encoder = InstructionEncoder(encoder_folder(config.instruction_tower), embed_dim)
    return CLIPRT(
        config,
        clip,
        tokenizer=tokenizer,
        preprocess=spec,
        architecture=architecture,
        embed_dim=embed_dim,
        action_token_ids=token_ids,
        action_scale=scale,
        instruction_encoder=instruction_encoder,
    )


def motion_token_rows(model: CLIPRT, vocabulary: Vocabulary) -> torch.Tensor:
    """The ``(N, ctx)`` token rows that represent each motion of ``vocabulary`` for ``model``."""
    if model.config.variant == "action_tokens":
        from cliprt_agents.text import action_token_table

        if len(vocabulary) != len(model.action_token_ids or []):
            raise ValueError(f"model has {len(model.action_token_ids or [])} motion tokens, vocabulary has {len(vocabulary)}")
        return action_token_table(model.tokenizer, model.action_token_ids)
    return model.tokenizer(list(vocabulary.texts)).long()
