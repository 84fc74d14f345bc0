"""The authors' CLIP-RT+ decoder layout (their open_clip fork): a tiny file in that layout loads and acts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cliprt_agents.authors_decoder import HEAD_NAMES, AuthorsActionDecoder
from cliprt_agents.config import TINY_MODEL, ModelConfig
from cliprt_agents.errors import CheckpointError
from cliprt_agents.libero_hub import LIBERO_ACTION_INDICES, chunk_predictor, load_libero_hub_model
from cliprt_agents.model import build_model, text_tower_shape
from cliprt_envs.motions import default_vocabulary

ALIASES_OF = {"transformer.": "transformer2.", "token_embedding.": "token_embedding2.", "ln_final.": "ln_final2."}


def _their_name(key: str) -> str:
    """Our MLPResNet's name of a head tensor -> theirs (action_head.layer_norm1 ...)."""
    name = key.removeprefix("head.")
    ours = {v: k for k, v in HEAD_NAMES.items()}
    old = next(n for n in ours if name.startswith(n))
    return "action_head." + ours[old] + name[len(old) :]


def write_authors_file(folder, seed: int = 0):
    """A checkpoint as their fork saves it: CLIP names, text.* duplicates, text2.* with aliases, action_head.*."""
    torch.manual_seed(seed)
    config = ModelConfig(backbone=TINY_MODEL, pretrained=None, variant="plus", action_indices=LIBERO_ACTION_INDICES)
    model = build_model(config, default_vocabulary(), load_pretrained=False)
    shape = text_tower_shape(model.architecture, model.clip)
    decoder = AuthorsActionDecoder(model.embed_dim, shape, model.clip.token_embedding.num_embeddings)
    state = {f"module.{k}": v for k, v in model.clip.state_dict().items()}
    for prefix in ("transformer.", "token_embedding.", "positional_embedding", "ln_final.", "text_projection"):
        state.update({f"module.text.{k}": v for k, v in model.clip.state_dict().items() if k.startswith(prefix)})
    for key, value in decoder.state_dict().items():
        if key.startswith("head."):
            state[f"module.{_their_name(key)}"] = value
            continue
        state[f"module.text2.{key}"] = value
        alias = next((a for p, a in ALIASES_OF.items() if key.startswith(p)), None)
        if alias is not None:
            state[f"module.{alias}{key.split('.', 1)[1]}"] = value
        elif key in ("positional_embedding", "text_projection"):
            state[f"module.{key}2"] = value
    folder.mkdir()
    torch.save({"epoch": 1, "state_dict": state}, folder / "cliprt_libero_goal.pt")
    return model, decoder


def test_a_file_in_the_authors_layout_loads_into_their_decoder_and_acts(tmp_path):
    source, decoder = write_authors_file(tmp_path / "authors")
    hub = load_libero_hub_model(tmp_path / "authors", architecture=TINY_MODEL)
    loaded = hub.model.decoder
    assert isinstance(loaded, AuthorsActionDecoder)
    for key, value in decoder.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    image = torch.nn.functional.normalize(torch.randn(2, source.embed_dim), dim=-1)
    prompt = torch.nn.functional.normalize(torch.randn(2, source.embed_dim), dim=-1)
    with torch.no_grad():
        out = hub.model.decode_actions(image, prompt)
        assert out.shape == (2, 8, 7) and torch.allclose(out, decoder.eval()(image, prompt), atol=1e-6)
        # the 56 empty slots are the embedding of token id 0 (their pad id), not of any other token
        loaded.token_embedding.weight[1] += torch.randn(source.embed_dim)
        assert torch.allclose(hub.model.decode_actions(image, prompt), out, atol=1e-6)
        loaded.token_embedding.weight[0] += torch.randn(source.embed_dim)
        assert not torch.allclose(hub.model.decode_actions(image, prompt), out, atol=1e-3)
    predict = chunk_predictor(hub)
    chunk = predict({"image": np.zeros((2, 64, 64, 3), np.uint8), "instruction": ["put the bowl on the plate"] * 2})
    assert chunk.shape == (2, 8, 7) and np.all(np.abs(chunk) <= 1)


def test_a_file_missing_clip_weights_is_refused_with_the_names(tmp_path):
    write_authors_file(tmp_path / "authors")
    path = tmp_path / "authors" / "cliprt_libero_goal.pt"
    raw = torch.load(path, weights_only=True)
    raw["state_dict"] = {k: v for k, v in raw["state_dict"].items() if not k.startswith("module.visual.")}
    raw["state_dict"]["module.surprise.weight"] = torch.zeros(1)
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match="surprise"):
        load_libero_hub_model(tmp_path / "authors", architecture=TINY_MODEL)
