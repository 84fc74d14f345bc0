"""The frame recipe and the demonstration readers."""

import numpy as np
import pytest

from cliprt_agents.roboclip.config import FrameRecipe
from cliprt_agents.roboclip.video import EpisodeFrames, fit_length, prepare_frame, read_video, to_float


def _frames(n=6, h=40, w=60):
    return np.stack([np.full((h, w, 3), 10 * i, dtype=np.uint8) for i in range(n)])


def test_prepare_frame_crops_the_centre_then_resizes():
    frame = np.zeros((40, 60, 3), np.uint8)
    frame[:, 10:50] = 255  # the centred 40x40 square is white
    out = prepare_frame(frame, FrameRecipe(crop=None, size=20))
    assert out.shape == (20, 20, 3) and out.min() == 255
    assert prepare_frame(frame, FrameRecipe(crop=250)).shape == (40, 40, 3)  # a crop larger than the frame: its shorter side
    assert prepare_frame(frame, FrameRecipe(crop=10)).shape == (10, 10, 3)


def test_fit_length_samples_evenly_or_repeats_the_last_frame():
    frames = _frames(9)
    assert fit_length(frames, 3)[:, 0, 0, 0].tolist() == [0, 40, 80]
    padded = fit_length(frames[:2], 4)
    assert padded[:, 0, 0, 0].tolist() == [0, 10, 10, 10]


def test_episode_frames_keep_every_stride_th_frame_and_the_last_and_render_only_those():
    renders = iter(_frames(10))
    calls = []

    def render():
        calls.append(1)
        return next(renders)

    frames = EpisodeFrames(FrameRecipe(crop=None, size=8, stride=4, num_frames=None))
    frames.reset(render)  # frame 0
    for _ in range(5):  # frames 1..5: 4 is kept, 5 is the last
        frames.add(render)
    clip = frames.finish(render)
    assert clip.shape == (3, 8, 8, 3)  # frames 0, 4, then the final one (5)
    assert len(calls) == 3  # frames that are not kept are never rendered
    assert clip[:, 0, 0, 0].tolist() == [0, 10, 20]


def test_value_ranges():
    clip = np.full((2, 4, 4, 3), 255, np.uint8)
    assert to_float(clip, FrameRecipe(value_range="unit")).max() == 1.0
    assert to_float(clip, FrameRecipe(value_range="byte")).max() == 255.0


@pytest.mark.parametrize("suffix", [".gif", ".mp4", "folder"])
def test_read_video_reads_gif_mp4_and_frame_folders(tmp_path, suffix):
    iio = pytest.importorskip("imageio.v3")
    frames = _frames(4, 32, 32)
    if suffix == "folder":
        path = tmp_path / "frames"
        path.mkdir()
        for i, f in enumerate(frames):
            iio.imwrite(path / f"{i:03d}.png", f)
    else:
        path = tmp_path / f"demo{suffix}"
        iio.imwrite(path, frames, **({"fps": 10} if suffix == ".mp4" else {}))
    video = read_video(path)
    assert video.dtype == np.uint8 and video.shape[1:] == (32, 32, 3) and len(video) == 4
    assert abs(int(video[-1].mean()) - 30) <= 3


def test_bad_demonstrations_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_video(tmp_path / "missing.mp4")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a video"):
        read_video(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no frames"):
        read_video(tmp_path / "empty")


@pytest.mark.parametrize("kwargs", [{"stride": 0}, {"crop": 0}, {"value_range": "percent"}])
def test_recipe_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match="FrameRecipe"):
        FrameRecipe(**kwargs)
