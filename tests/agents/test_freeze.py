"""TrainConfig.freeze: named parameters keep their values while the rest of the model trains."""

from __future__ import annotations

import pytest
from safetensors.torch import load_file

from cliprt_agents.config import TINY_MODEL, ModelConfig, TrainConfig


def _config(**kwargs) -> TrainConfig:
    return TrainConfig(max_steps=3, batch_size=8, lr=1e-2, warmup_steps=1, num_workers=0, progress=False, **kwargs)


def test_frozen_parameters_keep_their_values_and_the_rest_trains(tmp_path, toy_data):
    from cliprt_agents.train import train

    model = ModelConfig(backbone=TINY_MODEL, pretrained=None)
    first = train(model, _config(), toy_data, tmp_path / "first")
    second = train(model, _config(freeze=("clip.visual",)), toy_data, tmp_path / "second", init_from=str(first.model_dir))
    before = load_file(first.model_dir / "model.safetensors")
    after = load_file(second.model_dir / "model.safetensors")
    visual = [k for k in before if k.startswith("clip.visual.")]
    assert visual and all(before[k].equal(after[k]) for k in visual)
    text = [k for k in before if k.startswith("clip.transformer.") or k.startswith("clip.text.")]
    assert text and any(not before[k].equal(after[k]) for k in text)


def test_a_name_that_matches_nothing_is_an_error_naming_the_parts(tmp_path, toy_data):
    from cliprt_agents.train import train

    with pytest.raises(ValueError, match=r"'clip\.visul'.*the model's parts: \['clip'"):
        train(ModelConfig(backbone=TINY_MODEL, pretrained=None), _config(freeze=("clip.visul",)), toy_data, tmp_path)


def test_freeze_names_are_checked_and_survive_a_round_trip():
    with pytest.raises(ValueError, match="dotted prefixes"):
        TrainConfig(freeze=("film.",))
    with pytest.raises(ValueError, match="dotted prefixes"):
        TrainConfig(freeze=("",))
    config = TrainConfig(freeze=("film", "instruction_encoder.text.proj"))
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig(freeze="film").freeze == ("film",)
