"""The encoder interface: open_clip on frames, the in-project encoder's save/load, the factory's errors."""

import numpy as np
import pytest

pytest.importorskip("torch")

from cliprt_agents.roboclip.encoders.base import VideoLanguageEncoder, make_encoder


def test_clip_frames_encoder_is_the_mean_of_unit_frame_embeddings():
    pytest.importorskip("open_clip")
    from cliprt_agents.config import TINY_MODEL
    from cliprt_agents.roboclip.encoders.clip_frames import ClipFramesEncoder

    encoder = ClipFramesEncoder(TINY_MODEL, None)
    assert isinstance(encoder, VideoLanguageEncoder)
    rng = np.random.default_rng(0)
    frames = rng.random((2, 3, 64, 64, 3), dtype=np.float32)
    videos = encoder.embed_videos(frames)
    assert videos.shape == (2, encoder.embed_dim)
    singles = np.stack([encoder.embed_videos(frames[:, t : t + 1])[:, :] for t in range(3)], axis=1)
    np.testing.assert_allclose(videos, singles.mean(axis=1), rtol=1e-4, atol=1e-5)
    texts = encoder.embed_texts(["open the drawer", "push the cube"])
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, rtol=1e-5)
    assert encoder.embed_videos(frames[:, :, :32, :32]).shape == (2, encoder.embed_dim)  # resized to the model's input


def test_trained_encoder_round_trips_through_its_folder(tiny_encoder, tiny_encoder_dir):
    loaded = make_encoder("trained", weights=str(tiny_encoder_dir))
    assert isinstance(loaded, VideoLanguageEncoder)
    videos = np.random.default_rng(1).random((2, 4, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(loaded.embed_videos(videos), tiny_encoder.embed_videos(videos), rtol=1e-5)
    np.testing.assert_allclose(loaded.embed_texts(["open the drawer"]), tiny_encoder.embed_texts(["open the drawer"]))
    with pytest.raises(ValueError, match="32 px"):
        loaded.embed_videos(np.zeros((1, 4, 16, 16, 3), np.float32))


def test_factory_errors_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="unknown encoder"):
        make_encoder("xclip")
    with pytest.raises(ValueError, match="train-encoder"):
        make_encoder("trained")
    with pytest.raises(FileNotFoundError, match="train-encoder"):
        make_encoder("trained", weights=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"s3d_howto100m\.pth"):
        make_encoder("s3d")
