"""The CLIP-RT authors' LIBERO fine-tuned checkpoints (CLIP-RT+), run under our LIBERO env.

``clip-rt/clip-rt-finetuned-libero-{spatial,object,goal,10}`` on the Hugging
Face hub. What their evaluation code (``simulation/`` of
github.com/clip-rt/clip-rt, ``run_libero_eval_clip_rt_reg.py``) does, which
this module reproduces:

* the model is open_clip ``ViT-H-14-378-quickgelu`` plus an action decoder
  (their open_clip fork, ``use_action_decoder=True``); one pass reads the
  normalised image and prompt embeddings with 8 x 7 empty tokens and returns a
  chunk of 8 actions of 7 numbers;
* the numbers are LIBERO's command as is (OSC delta in [-1, 1], gripper -1
  open / +1 close): no un-normalisation;
* the image is the agent-view camera rendered at 256 px, turned 180 degrees
  (OpenVLA's LIBERO convention: ``img[::-1, ::-1]`` of LIBERO's frame, so our
  upright frame mirrored left-right), resized to 224 px, then the model's own
  open_clip preprocessing; no wrist image, no proprioception;
* the prompt is "what motion should the robot arm perform to complete the
  instruction '{}'?" with LIBERO's instruction; all 8 actions of a chunk run
  before the next call; 10 settle steps first; the suite's step limit.

Files: ``hf-hub:ORG/REPO`` (cache, else a download; offline it fails at once,
see :func:`cliprt_agents.hub.hub_folder`), a folder with a weights file, or the
file itself. The weights file is an open_clip training checkpoint (a
``state_dict``, keys maybe prefixed ``module.``): the CLIP keys load into the
open_clip model; the decoder in the authors' own layout (``text2.*`` and
``action_head.*``, read from their open_clip fork) into
:class:`cliprt_agents.authors_decoder.AuthorsActionDecoder`, or in ours
(``decoder.*``) into :class:`cliprt_agents.model.ActionDecoder`
(``action_indices`` = the 7 LIBERO dims). Anything else is refused with the
names found. No published file has been loaded here (no network): the
authors' layout is read from their code, and the tests write tiny files in it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from cliprt_agents.config import SEVEN_DOF_INDICES
from cliprt_agents.errors import CheckpointError

AUTHORS_LIBERO_REPOS = {
    "spatial": "clip-rt/clip-rt-finetuned-libero-spatial",
    "object": "clip-rt/clip-rt-finetuned-libero-object",
    "goal": "clip-rt/clip-rt-finetuned-libero-goal",
    "10": "clip-rt/clip-rt-finetuned-libero-10",
}
#: The 7 LIBERO dims in our 8-D layout (no separate gripper rotation).
LIBERO_ACTION_INDICES = SEVEN_DOF_INDICES
CHUNK_SIZE = 8
#: The authors resize LIBERO's 256 px frame to this before open_clip's own preprocessing.
AUTHORS_RESIZE = 224
DECODER_PREFIX = "decoder."


@dataclass
class LiberoHubModel:
    """A loaded authors' model: the CLIP-RT+ network and its chunk size."""

    model: Any  # cliprt_agents.model.CLIPRT with variant "plus"
    chunk_size: int = CHUNK_SIZE


def authors_checkpoint(suite: str) -> str:
    """``hf-hub:clip-rt/clip-rt-finetuned-libero-<suite>``."""
    if suite not in AUTHORS_LIBERO_REPOS:
        raise ValueError(f"the authors published LIBERO checkpoints for {', '.join(AUTHORS_LIBERO_REPOS)}; got {suite!r}")
    return f"hf-hub:{AUTHORS_LIBERO_REPOS[suite]}"


def is_authors_libero_checkpoint(path: str | os.PathLike[str]) -> bool:
    """True for ``hf-hub:...`` and for open_clip-style weights (a file or a folder without a CLIP-RT config.json)."""
    from cliprt_agents.hub import is_hub_checkpoint

    return is_hub_checkpoint(path)


def _state_dict(path: os.PathLike[str]) -> dict[str, torch.Tensor]:
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated download, a pickle with foreign classes
        raise CheckpointError(f"cannot read the weights file {path}: {type(exc).__name__}: {exc}") from None
    state = raw.get("state_dict", raw) if isinstance(raw, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds no state_dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _load_authors_layout(model: Any, state: dict[str, torch.Tensor], where: str) -> None:
    """Their fork's layout (``text2.*``, ``action_head.*``): our decoder becomes :class:`AuthorsActionDecoder`."""
    from cliprt_agents.authors_decoder import AuthorsActionDecoder, split_authors_state
    from cliprt_agents.model import text_tower_shape

    clip_keys = set(model.clip.state_dict())
    clip_part, decoder_part, unknown = split_authors_state(state, clip_keys)
    missing = sorted(clip_keys - set(clip_part))
    if unknown or missing:
        raise CheckpointError(
            f"{where}: not the authors' CLIP-RT+ layout for {model.config.backbone} "
            f"({len(unknown)} unknown keys, e.g. {unknown[:3]}; {len(missing)} CLIP keys missing, e.g. {missing[:3]})"
        )
    vocab_size = int(model.clip.token_embedding.num_embeddings)
    decoder = AuthorsActionDecoder(model.embed_dim, text_tower_shape(model.architecture, model.clip), vocab_size)
    model.clip.load_state_dict(clip_part)
    try:
        decoder.load_state_dict(decoder_part)
    except RuntimeError as exc:
        raise CheckpointError(f"{where}: the authors' action decoder does not fit: {exc}") from None
    model.decoder = decoder


def _load_into(model: Any, state: dict[str, torch.Tensor], where: str) -> None:
    from cliprt_agents.authors_decoder import is_authors_layout

    if is_authors_layout(state):
        _load_authors_layout(model, state, where)
        return
    clip_keys = set(model.clip.state_dict())
    clip_part = {k: v for k, v in state.items() if k in clip_keys}
    decoder_part = {k[len(DECODER_PREFIX) :]: v for k, v in state.items() if k.startswith(DECODER_PREFIX)}
    unknown = sorted(k for k in state if k not in clip_keys and not k.startswith(DECODER_PREFIX))
    if unknown or not decoder_part:
        prefixes = sorted({k.split(".")[0] for k in unknown})
        raise CheckpointError(
            f"{where}: the action decoder's weights are not under '{DECODER_PREFIX}*' "
            f"(found {len(unknown)} other keys, prefixes {prefixes[:8]}); cliprt loads the decoder layout of "
            "cliprt_agents.model.ActionDecoder"
        )
    missing = sorted(clip_keys - set(clip_part))
    if missing:
        raise CheckpointError(f"{where}: CLIP weights missing ({len(missing)} keys, e.g. {missing[:3]}); wrong architecture?")
    model.clip.load_state_dict(clip_part)
    try:
        model.decoder.load_state_dict(decoder_part)
    except RuntimeError as exc:
        raise CheckpointError(f"{where}: the action decoder does not fit: {exc}") from None


def load_libero_hub_model(
    source: str | os.PathLike[str],
    *,
    device: str | torch.device = "cpu",
    architecture: str | None = None,
    revision: str | None = None,
) -> LiberoHubModel:
    """Load an authors' LIBERO checkpoint (see the module docstring); fails fast offline."""
    from cliprt_agents.config import ModelConfig
    from cliprt_agents.devices import resolve_device
    from cliprt_agents.hub import AUTHORS_ARCHITECTURE, AUTHORS_PROMPT, locate
    from cliprt_agents.model import build_model
    from cliprt_envs.motions import default_vocabulary

    resolved = resolve_device(device)
    files = locate(source, revision=revision)
    config = ModelConfig(
        backbone=architecture or AUTHORS_ARCHITECTURE,
        pretrained=None,
        variant="plus",
        chunk_size=CHUNK_SIZE,
        action_indices=LIBERO_ACTION_INDICES,
        prompt_template=AUTHORS_PROMPT,
    )
    model = build_model(config, default_vocabulary(), load_pretrained=False)
    _load_into(model, _state_dict(files.weights), str(files.weights))
    return LiberoHubModel(model.eval().to(resolved), CHUNK_SIZE)


def authors_view(images: np.ndarray) -> np.ndarray:
    """Our upright frames ``(B, H, W, 3)`` as the authors' model saw LIBERO: turned 180 degrees, 224 px."""
    from PIL import Image

    turned = np.asarray(images)[:, :, ::-1]  # upright -> LIBERO's frame turned 180 degrees
    return np.stack(
        [np.asarray(Image.fromarray(np.ascontiguousarray(im)).resize((AUTHORS_RESIZE,) * 2, Image.LANCZOS)) for im in turned]
    )


def chunk_predictor(hub_model: LiberoHubModel, *, device: str | torch.device = "cpu"):
    """``predict(observation) -> (B, 8, 7)`` LIBERO commands, the authors' way (see the module docstring)."""
    import torch.nn.functional as F

    from cliprt_agents.config import format_prompt
    from cliprt_agents.preprocess import preprocess_images

    model = hub_model.model
    target = next(model.parameters()).device

    @torch.inference_mode()
    def predict(observation: dict[str, Any]) -> np.ndarray:
        pixels = preprocess_images(authors_view(np.asarray(observation["image"])), model.preprocess, device=target)
        prompts = [format_prompt(s, model.config.prompt_template) for s in observation["instruction"]]
        image = F.normalize(model.encode_image(pixels).float(), dim=-1)
        text = F.normalize(model.encode_prompt(model.prompt_tokenizer(prompts).to(target)).float(), dim=-1)
        chunk = model.decode_actions(image, text).float()
        return np.clip(chunk.cpu().numpy(), -1.0, 1.0)

    return predict
