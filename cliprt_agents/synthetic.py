"""A toy dataset whose correct motion depends on both the image and the instruction.

Each image shows one coloured square somewhere off the image centre (the
gripper). The instruction names an axis: "move sideways to the red square"
asks for left/right, "move forward or back to the red square" for
forward/back. The right motion is the 5 cm move along that axis towards the
square (image up = forward, down = back, left = left, right = right), so a
model that ignores the image or the instruction is at chance (1/2 of the 4
candidates). No simulator needed: a quick, honest learning test and a cheap
training benchmark.

Why not "two squares, the instruction names one"? CLIP-RT's context is
``image_emb + text_emb``, so a motion's score is a sum of an image term and
an instruction term; choosing *between objects* by name is an XOR of the two
and cannot be expressed that way (swap the squares and the same instruction
term must favour the other direction). The task here is additively
separable: the image says where the square is on both axes, the instruction
says which axis counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.utils.data import Dataset

from cliprt_envs.motions import Vocabulary, default_vocabulary, random_paraphrase

COLOURS: dict[str, tuple[int, int, int]] = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (30, 170, 60)}
TEMPLATES: dict[str, tuple[str, ...]] = {
    "sideways": ("move sideways to the {c} square", "slide left or right towards the {c} square"),
    "depth": ("move forward or back to the {c} square", "line up with the {c} square front to back"),
}


class SyntheticMotionDataset(Dataset):
    """``n`` deterministic samples (item ``i`` depends only on ``seed`` and ``i``).

    ``episode_length`` consecutive items share an episode index, so
    episode-level splits and action chunks behave as with real data.
    """

    def __init__(
        self,
        n: int,
        *,
        image_size: int = 32,
        vocabulary: Vocabulary | None = None,
        seed: int = 0,
        paraphrase: bool = False,
        chunk_size: int = 8,
        episode_length: int = 4,
    ) -> None:
        if n < 1 or image_size < 16 or episode_length < 1:
            raise ValueError("need n >= 1, image_size >= 16 and episode_length >= 1")
        self.n = n
        self.image_size = image_size
        self.vocabulary = vocabulary or default_vocabulary()
        self.seed = seed
        self.paraphrase = paraphrase
        self.chunk_size = chunk_size
        self.episode_length = episode_length
        self.episode_indices = np.arange(n, dtype=np.int64) // episode_length
        v = self.vocabulary
        # (image direction) -> motion id: up=forward(+x), down=back(-x), left=+y, right=-y
        moves = {"up": ("x", 1), "down": ("x", -1), "left": ("y", 1), "right": ("y", -1)}
        self.motion_of: dict[str, int] = {}
        for name, (axis, sign) in moves.items():
            levels = v.axis_levels(axis)
            level = min(1, len(levels) - 1)
            motion = v.find(axis, sign, level)
            if motion is None:
                raise ValueError(f"vocabulary {v.name!r} has no {axis} motion; the synthetic task needs x and y moves")
            self.motion_of[name] = motion

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.n:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        s = self.image_size
        side = max(3, s // 5)
        image = np.full((s, s, 3), 128, dtype=np.uint8)
        image += rng.integers(0, 12, size=(s, s, 3), dtype=np.uint8)
        # Top-left corner of the square, at least `gap` pixels off the centre on both axes.
        centre, gap = (s - side) / 2, max(2, s // 10)
        offsets = rng.integers(gap, int(centre) + 1, size=2) * rng.choice([-1, 1], size=2)
        r, c = (int(np.clip(centre + o, 0, s - side)) for o in offsets)
        colour = list(COLOURS)[int(rng.integers(len(COLOURS)))]
        image[r : r + side, c : c + side] = COLOURS[colour]
        axis = list(TEMPLATES)[int(rng.integers(len(TEMPLATES)))]
        if axis == "sideways":
            direction = "right" if c > centre else "left"
        else:
            direction = "down" if r > centre else "up"
        templates = TEMPLATES[axis]
        instruction = templates[int(rng.integers(len(templates)))].format(c=colour)
        motion_id = self.motion_of[direction]
        text = random_paraphrase(self.vocabulary, motion_id, rng) if self.paraphrase else self.vocabulary.text(motion_id)
        action = self.vocabulary.delta(motion_id).astype(np.float32)
        step = index % self.episode_length
        remaining = self.episode_length - step
        chunk = np.repeat(action[None], self.chunk_size, axis=0)
        mask = np.arange(self.chunk_size) < remaining
        chunk[~mask] = 0.0
        return {
            "image": image,
            "instruction": instruction,
            "supervision": text,
            "motion_id": motion_id,
            "action": action,
            "episode_index": int(self.episode_indices[index]),
            "action_chunk": chunk,
            "chunk_mask": mask,
        }
