"""Left-right mirrored copies of training samples (``TrainConfig.mirror``).

A handful of demonstrations shows each target on one side of the gripper
only a few times, and a policy fine-tuned on them can learn "go left" for a
task instead of "go towards the named object" (in the main job's traces,
half of CloseLaptop's episodes first part from the expert by moving the
wrong way along the left-right axis, towards the other laptop).
Reflecting the world in the plane of the arm's forward axis turns every
demonstration into a second valid one: the camera image flips left-right,
the motion's left-right component and its rotations about the forward and
vertical axes change sign, and the instruction swaps "left" and "right"
(and "clockwise" and "counterclockwise").

This holds for a camera whose image rows run along the robot's left-right
axis and which sits over the arm's own left-right position: the twin's wrist
camera while the gripper points down (the tasks' experts never yaw it; a test
checks both at every step of their episodes), or a camera looking along the
robot's forward axis from straight behind or ahead of its base. It is off by
default: a view that is not left-right symmetric about the robot, or an
instruction whose meaning a mirror changes in another way ("the right answer"),
makes mirrored samples wrong labels.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from cliprt_agents.data import dataset_episode_indices, dataset_split_groups
from cliprt_envs.motions import Vocabulary
from cliprt_envs.motions.vocabulary import ACTION_DIMS

#: Delta components that change sign under the reflection y -> -y: dy, and the rotations
#: about x (roll), z (yaw) and the downward tool axis (gripper rotation). An angular
#: velocity is a pseudovector, so pitch, about y itself, keeps its sign.
MIRRORED_AXES: tuple[str, ...] = ("y", "roll", "yaw", "gripper_rotation")
_DELTA_SIGNS = np.array([-1.0 if dim in MIRRORED_AXES else 1.0 for dim in ACTION_DIMS], dtype=np.float32)

_PROPRIO_SIGNS = np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0], dtype=np.float32)

_SWAPS = {
    "left": "right",
    "right": "left",
    "leftmost": "rightmost",
    "rightmost": "leftmost",
    "clockwise": "counterclockwise",
    "counterclockwise": "clockwise",
    "counter-clockwise": "clockwise",
    "anticlockwise": "clockwise",
    "anti-clockwise": "clockwise",
}
_WORDS = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _SWAPS), key=len, reverse=True)) + r")\b", re.IGNORECASE)


def flip_width(images: Any) -> Any:
    """``(..., H, W, C)`` images (numpy or torch) flipped left-right."""
    if hasattr(images, "flip"):  # a torch tensor
        return images.flip(-2)
    return np.ascontiguousarray(np.asarray(images)[..., ::-1, :])


def mirror_text(text: str) -> str:
    """``text`` as said of the mirrored scene: left and right, clockwise and counterclockwise swapped."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        out = _SWAPS[word.lower()]
        return out.upper() if word.isupper() else out.capitalize() if word[0].isupper() else out

    return _WORDS.sub(swap, text)


def mirror_delta(delta: np.ndarray) -> np.ndarray:
    """An 8-D motion delta (or a ``(..., 8)`` array of them) in the mirrored scene."""
    arr = np.asarray(delta, dtype=np.float32)
    if arr.shape[-1] != 8:
        raise ValueError(f"a motion delta has 8 components, got shape {arr.shape}")
    return arr * _DELTA_SIGNS


def mirror_proprio(proprio: np.ndarray) -> np.ndarray:
    """The arm's state as the twin records it (tool position, its quaternion w x y z, the opening), mirrored.

    Reflecting both the world and the (left-right symmetric) gripper maps a rotation R to M R M with
    M = diag(1, -1, 1): the same angle about the mirrored axis, a pseudovector, so x and z flip.
    """
    arr = np.asarray(proprio, dtype=np.float32)
    if arr.shape[-1] != 8:
        raise ValueError(f"proprioception has 8 components (position, quaternion, opening), got shape {arr.shape}")
    return arr * _PROPRIO_SIGNS


def mirrored_motion_ids(vocabulary: Vocabulary) -> np.ndarray:
    """For each motion id, the id of its mirror image (itself for motions the mirror leaves alone).

    Raises ``ValueError`` for a vocabulary that has a motion without its opposite.
    """
    out = np.arange(len(vocabulary), dtype=np.int64)
    for motion in vocabulary:
        if motion.axis in MIRRORED_AXES:
            other = vocabulary.find(motion.axis, -motion.sign, motion.level)
            if other is None:
                raise ValueError(f"vocabulary {vocabulary.name!r} has {motion.text!r} but not its mirror image")
            out[motion.id] = other
    return out


class MirroredDataset(Dataset):
    """``dataset`` followed by its left-right mirrored copy (twice as many items).

    Item ``i + len(dataset)`` is item ``i`` mirrored; a copy stays in its
    original's episode and split group, so a split never puts one on each side.
    """

    def __init__(self, dataset: Dataset, vocabulary: Vocabulary) -> None:
        self.dataset = dataset
        self.motion_map = mirrored_motion_ids(vocabulary)
        self.size = len(dataset)
        self.episode_indices = np.tile(dataset_episode_indices(dataset), 2)
        self.split_groups = np.tile(dataset_split_groups(dataset), 2)

    def __len__(self) -> int:
        return 2 * self.size

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        index %= len(self)
        item = self.dataset[index % self.size]
        return item if index < self.size else mirror_sample(item, self.motion_map)


def mirror_sample(item: dict[str, Any], motion_map: np.ndarray) -> dict[str, Any]:
    """One training sample (:mod:`cliprt_agents.data`'s keys) as seen in the mirrored scene."""
    out = dict(item)
    if "proprio" in item:
        out["proprio"] = mirror_proprio(item["proprio"])
    out["image"] = flip_width(np.asarray(item["image"]))
    out["instruction"] = mirror_text(str(item["instruction"]))
    out["supervision"] = mirror_text(str(item["supervision"]))
    motion_id = int(item["motion_id"])
    out["motion_id"] = int(motion_map[motion_id]) if 0 <= motion_id < len(motion_map) else motion_id
    out["action"] = mirror_delta(item["action"])
    if "action_chunk" in item:
        out["action_chunk"] = mirror_delta(item["action_chunk"])
    return out


def mirror_observation(observation: dict[str, Any]) -> dict[str, Any]:
    """An env observation (single or batched) as it would be in the mirrored scene."""
    out = dict(observation)
    out["image"] = flip_width(observation["image"])
    instruction = observation["instruction"]
    if isinstance(instruction, str):
        out["instruction"] = mirror_text(instruction)
    else:
        items = instruction.tolist() if isinstance(instruction, np.ndarray) else instruction
        out["instruction"] = [mirror_text(str(s)) for s in items]
    if "proprio" in observation:
        out["proprio"] = mirror_proprio(observation["proprio"])
    return out
