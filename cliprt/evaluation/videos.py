"""Benchmark videos: which episodes get recorded, how a frame looks, which files are kept.

Videos are for people, not for the agent: they are rendered at ``video_size``
from ``video_camera`` (not the policy's small image), with the instruction,
the motion of each step and the outcome written under the picture, and the
policy's own view inset in a corner. One success and one failure are kept per
agent and task, named ``<agent>__<env id>__<success|failure>__s<seed>e<episode>.mp4``.
"""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

import numpy as np

VIDEO_DIR = "videos"
PARTIAL_DIR = ".partial"  # videos being recorded, under VIDEO_DIR
VIDEO_FPS = 5
VIDEO_HOLD_SECONDS = 1.0  # the last frame stays on screen this long, so the outcome can be read
OUTCOMES = ("success", "failure")


def compose_frame(
    view: np.ndarray,
    agent_image: np.ndarray | None,
    instruction: str,
    caption: str,
    size: int,
    colour: tuple[int, int, int] = (235, 235, 235),
) -> np.ndarray:
    """One video frame: the view at ``size`` px wide, the agent's image inset, text underneath."""
    from PIL import Image, ImageDraw

    picture = Image.fromarray(np.ascontiguousarray(view[..., :3]))
    if picture.width != size:
        height = max(2, round(picture.height * size / picture.width))
        picture = picture.resize((size, height), Image.Resampling.NEAREST if picture.width < size else Image.Resampling.BILINEAR)
    if agent_image is not None and agent_image.ndim == 3:
        inset_w = max(16, size // 4)
        inset = Image.fromarray(np.ascontiguousarray(agent_image[..., :3]))
        inset = inset.resize((inset_w, max(2, round(inset.height * inset_w / inset.width))), Image.Resampling.NEAREST)
        border = Image.new("RGB", (inset.width + 4, inset.height + 4), (255, 255, 255))
        border.paste(inset, (2, 2))
        picture.paste(border, (picture.width - border.width - 4, 4))
    font_px = max(10, size // 20)
    font = _font(font_px)
    text_w = picture.width - 8
    # The instruction is fixed for a video and the caption always gets two lines: every frame has one size.
    lines = _wrap(f'"{instruction}"', font, text_w, 2)
    caption_lines = _wrap(caption, font, text_w, 2)
    caption_lines += [""] * (2 - len(caption_lines))
    band = (font_px + 4) * (len(lines) + 2) + 8
    width, height = picture.width + picture.width % 2, picture.height + band
    height += height % 2  # H.264 (yuv420p) needs even sizes
    canvas = Image.new("RGB", (width, height), (20, 20, 20))
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for k, line in enumerate(lines + caption_lines):
        fill = colour if k >= len(lines) else (255, 255, 255)
        draw.text((4, picture.height + 4 + k * (font_px + 4)), line, font=font, fill=fill)
    return np.asarray(canvas)


@functools.lru_cache(maxsize=4)
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _fit(text: str, font, width: int) -> str:
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


def _wrap(text: str, font, width: int, max_lines: int) -> list[str]:
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < max_lines:
        line = words.pop(0)
        while words and font.getlength(f"{line} {words[0]}") <= width:
            line = f"{line} {words.pop(0)}"
        lines.append(_fit(line, font, width))
    if words:
        lines[-1] = _fit(f"{lines[-1]} {' '.join(words)}", font, width)
    return lines or [""]


def write_video(path: str | Path, frames: list[np.ndarray], fps: int = VIDEO_FPS) -> None:
    import imageio.v2 as imageio

    hold = [frames[-1]] * int(VIDEO_HOLD_SECONDS * fps)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(path, [*frames, *hold], fps=fps, macro_block_size=1)


def _file_label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def video_name(label: str, env_id: str, outcome: str, seed: int, episode: int) -> str:
    return f"{_file_label(label)}__{_file_label(env_id)}__{outcome}__s{seed}e{episode}.mp4"


def kept_videos(out: Path, label: str, env_id: str) -> dict[str, Path]:
    """The videos a folder already keeps for an (agent, task): outcome -> file."""
    found: dict[str, Path] = {}
    for outcome in OUTCOMES:
        files = sorted((Path(out) / VIDEO_DIR).glob(f"{_file_label(label)}__{_file_label(env_id)}__{outcome}__s*e*.mp4"))
        if files:
            found[outcome] = files[0]
    return found


def wants_video(episode: int, video_episodes: int, kept: dict[str, str]) -> bool:
    """Record this episode while the (agent, task) still lacks a success or a failure video."""
    return episode < video_episodes and len(kept) < len(OUTCOMES)


def partial_video_path(out: Path, label: str, env_id: str, seed: int, episode: int) -> Path:
    """Where an episode's video is written while it runs (its folder is created)."""
    path = out / VIDEO_DIR / PARTIAL_DIR / video_name(label, env_id, "pending", seed, episode)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def keep_video(
    out: Path, label: str, env_id: str, tmp: Path | None, success: bool, seed: int, episode: int, kept: dict[str, str]
) -> str | None:
    """Keep an episode's video if it is the first of its outcome; return its path in the folder."""
    if tmp is None or not tmp.exists():
        return None
    outcome = OUTCOMES[0] if success else OUTCOMES[1]
    if outcome in kept:
        tmp.unlink()
        return None
    name = video_name(label, env_id, outcome, seed, episode)
    tmp.replace(out / VIDEO_DIR / name)
    kept[outcome] = name
    return f"{VIDEO_DIR}/{name}"


def remove_partial_videos(out: Path) -> None:
    """Delete the videos an interrupted run left half-written."""
    shutil.rmtree(out / VIDEO_DIR / PARTIAL_DIR, ignore_errors=True)


def remove_empty_partial_dir(out: Path) -> None:
    partial_dir = out / VIDEO_DIR / PARTIAL_DIR
    if partial_dir.is_dir() and not any(partial_dir.iterdir()):
        partial_dir.rmdir()
