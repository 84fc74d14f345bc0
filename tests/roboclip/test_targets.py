"""Targets: a text, a demonstration video (file or frames), an edited video; all of the encoder's size."""

import numpy as np
import pytest

pytest.importorskip("torch")

from cliprt_agents.roboclip.targets import Target, demo_clip, target_embedding


def _demo(n=6, size=40):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)


def test_text_video_and_edited_targets_have_the_encoder_size(tiny_encoder, tmp_path):
    iio = pytest.importorskip("imageio.v3")
    path = tmp_path / "demo.gif"
    iio.imwrite(path, _demo())
    text = target_embedding(tiny_encoder, Target(text="open the blue drawer"))
    video = target_embedding(tiny_encoder, Target(video=path))
    edited = target_embedding(tiny_encoder, Target(video=path, minus="blue drawer", plus="red drawer"))
    for z in (text, video, edited):
        assert z.shape == (tiny_encoder.embed_dim,) and z.dtype == np.float32
    minus, plus = tiny_encoder.embed_texts(["blue drawer", "red drawer"])
    np.testing.assert_allclose(edited, video - minus + plus, rtol=1e-5, atol=1e-6)


def test_frames_and_file_give_the_same_target(tiny_encoder, tmp_path):
    iio = pytest.importorskip("imageio.v3")
    frames = _demo()
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        iio.imwrite(folder / f"{i:02d}.png", f)
    a = target_embedding(tiny_encoder, Target(video=frames))
    b = target_embedding(tiny_encoder, Target(video=folder))
    np.testing.assert_allclose(a, b, rtol=1e-5)
    assert demo_clip(frames, tiny_encoder.recipe).shape == (4, 32, 32, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"text": "a", "video": "b"}, "exactly one"),
        ({"video": "v.mp4", "minus": "x"}, "both texts"),
        ({"text": "a", "minus": "x", "plus": "y"}, "give a video"),
        ({"text": "  "}, "empty"),
    ],
)
def test_bad_targets_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Target(**kwargs)
