"""Shared pieces: a small in-project encoder with random weights (real code, tiny sizes)."""

import pytest


@pytest.fixture(scope="session")
def tiny_encoder():
    pytest.importorskip("torch")
    import torch

    from cliprt_agents.roboclip.config import TrainedEncoderConfig
    from cliprt_agents.roboclip.encoders.trained import TrainedVideoEncoder, VideoTextModel

    torch.manual_seed(0)
    config = TrainedEncoderConfig(embed_dim=16, width=8, image_size=32, stride=2, num_frames=4)
    vocabulary = ["open", "the", "blue", "red", "drawer"]
    return TrainedVideoEncoder(VideoTextModel(config, vocabulary), config, vocabulary)


@pytest.fixture(scope="session")
def tiny_encoder_dir(tiny_encoder, tmp_path_factory):
    return tiny_encoder.save(tmp_path_factory.mktemp("encoder"))
