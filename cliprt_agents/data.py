"""Training samples, batches and episode splits.

A training dataset is any ``torch.utils.data.Dataset`` whose items are dicts:

===============  ==========================================================
``image``        uint8 ``(H, W, 3)`` numpy array (camera view)
``instruction``  str, the task instruction
``supervision``  str, the motion as spoken (a motion text or a paraphrase)
``motion_id``    int, the motion's id in the vocabulary (-1: unknown)
``action``       float32 ``(8,)`` low-level delta
``episode_index`` int
``action_chunk`` float32 ``(K, 8)``, this and the next K-1 actions (CLIP-RT+)
``chunk_mask``   bool ``(K,)``, False past the episode end (CLIP-RT+)
``proprio``      float32 ``(8,)``, the arm's state (models with ``proprio``)
===============  ==========================================================

The collate function does the image preprocessing and tokenisation, so it
runs in DataLoader workers, and any dataset with these keys plugs in
(``cliprt_data``'s recorded datasets, the sim rollouts of
:mod:`cliprt_agents.sim_data`, the toy set of :mod:`cliprt_agents.synthetic`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from cliprt_agents.config import format_prompt
from cliprt_agents.preprocess import PreprocessSpec, preprocess_images
from cliprt_agents.text import unique_tokens

log = logging.getLogger(__name__)

REQUIRED_KEYS: tuple[str, ...] = ("image", "instruction", "supervision", "motion_id", "action", "episode_index")
CHUNK_KEYS: tuple[str, ...] = ("action_chunk", "chunk_mask")


def episode_chunks(actions: np.ndarray, chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    """For each step of one episode, the next ``chunk_size`` actions and a validity mask.

    ``actions`` is ``(T, 8)``; returns ``(T, K, 8)`` float32 (zeros past the
    end) and ``(T, K)`` bool.
    """
    actions = np.asarray(actions, dtype=np.float32)
    t = actions.shape[0]
    padded = np.concatenate([actions, np.zeros((chunk_size, actions.shape[1]), np.float32)])
    steps = np.arange(t)[:, None] + np.arange(chunk_size)[None, :]
    return padded[steps], steps < t


class InMemoryMotionDataset(Dataset):
    """A list of sample dicts; exposes ``episode_indices`` so splits need not load images."""

    def __init__(self, samples: Sequence[dict[str, Any]]) -> None:
        self.samples = list(samples)
        self.episode_indices = np.array([int(s["episode_index"]) for s in self.samples], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.samples[index]


def dataset_episode_indices(dataset: Dataset) -> np.ndarray:
    """Episode index of every item: from ``dataset.episode_indices`` if present, else by reading items."""
    known = getattr(dataset, "episode_indices", None)
    if known is not None:
        arr = np.asarray(known, dtype=np.int64)
        if arr.shape != (len(dataset),):
            raise ValueError(f"dataset.episode_indices has shape {arr.shape}, expected ({len(dataset)},)")
        return arr
    if isinstance(dataset, Subset):
        return dataset_episode_indices(dataset.dataset)[np.asarray(dataset.indices)]
    log.warning("dataset has no episode_indices attribute; reading every item to split by episode")
    return np.array([int(dataset[i]["episode_index"]) for i in range(len(dataset))], dtype=np.int64)


def dataset_split_groups(dataset: Dataset) -> np.ndarray:
    """Per item, the group that must stay on one side of a split.

    ``dataset.split_groups`` when the dataset defines it (``cliprt_data``
    puts an STA trajectory in its demonstration's group), else the episode.
    """
    groups = getattr(dataset, "split_groups", None)
    if groups is not None:
        arr = np.asarray(groups, dtype=np.int64)
        if arr.shape == (len(dataset),):
            return arr
    if isinstance(dataset, Subset) and getattr(dataset.dataset, "split_groups", None) is not None:
        return dataset_split_groups(dataset.dataset)[np.asarray(dataset.indices)]
    return dataset_episode_indices(dataset)


def split_by_episode(dataset: Dataset, val_fraction: float, seed: int = 0) -> tuple[Dataset, Dataset | None]:
    """Hold out whole episodes (a random ``val_fraction`` of them) for validation.

    Splitting by episode (or by the dataset's ``split_groups``), not by
    sample, keeps near-duplicate frames and augmented copies of one
    demonstration out of both sides. Returns ``(train, None)`` when there
    are fewer than two groups or ``val_fraction`` is 0.
    """
    if val_fraction <= 0:
        return dataset, None
    episodes = dataset_split_groups(dataset)
    unique = np.unique(episodes)
    if unique.size < 2:
        return dataset, None
    rng = np.random.default_rng(seed)
    n_val = min(unique.size - 1, max(1, round(val_fraction * unique.size)))
    val_eps = rng.choice(unique, size=n_val, replace=False)
    is_val = np.isin(episodes, val_eps)
    return Subset(dataset, np.flatnonzero(~is_val).tolist()), Subset(dataset, np.flatnonzero(is_val).tolist())


class TokenRowCache:
    """A tokenizer that remembers each distinct text's token row.

    A training run repeats a few hundred to a few thousand texts (prompts,
    motion texts and their paraphrases) every epoch; CLIP's BPE tokenizer
    costs about 0.15 ms a text in Python, so re-tokenising them was most of
    the collate time. Rows are exactly the tokenizer's; a tokenizer whose rows
    are not all as wide (padding to the longest text of a call) is called
    directly every time. Bounded: past ``max_texts`` texts the cache starts over.
    """

    def __init__(self, tokenizer: Any, max_texts: int = 65536) -> None:
        self.tokenizer = tokenizer
        self.max_texts = max_texts
        self.rows: dict[str, torch.Tensor] = {}
        self.width: int | None = None
        self.enabled = True

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        texts = [str(t) for t in texts]
        if not self.enabled:
            return self.tokenizer(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self.rows]
        if missing:
            tokens = self.tokenizer(missing)
            if tokens.ndim != 2 or (self.width is not None and tokens.shape[1] != self.width):
                self.enabled, self.rows = False, {}
                return self.tokenizer(texts)
            self.width = tokens.shape[1]
            if len(self.rows) + len(missing) > self.max_texts:
                self.rows.clear()
            self.rows.update(zip(missing, tokens.unbind(0)))
        # always a new tensor: a batch leaves a DataLoader worker through shared memory, the cache must not
        return torch.stack([self.rows[t] for t in texts])


@dataclass(frozen=True)
class MotionBatchCollator:
    """Turns a list of sample dicts into model-ready tensors (runs in DataLoader workers).

    ``motion_token_table`` (CLIP-RT-Action) replaces each sample's supervision
    text by its motion's token row. ``chunk_size``/``action_indices``/
    ``action_scale`` are set for CLIP-RT+ and select, normalise and check the
    action chunks. ``token_rows`` tokenises texts: by default a
    :class:`TokenRowCache` over ``tokenizer`` (each DataLoader worker keeps its own).
    """

    tokenizer: Any
    preprocess: PreprocessSpec
    prompt_template: str
    motion_token_table: torch.Tensor | None = None
    chunk_size: int | None = None
    action_indices: tuple[int, ...] | None = None
    action_scale: torch.Tensor | None = None
    vocabulary_tokens: torch.Tensor | None = None  # every motion's token row (the whole-vocabulary loss)
    proprio: bool = False  # batches carry each sample's proprioception (ModelConfig.proprio)
    prompt_tokenizer: Any = None  # a separate instruction encoder's tokenizer (default: ``tokenizer``)
    token_rows: Any = field(default=None, compare=False, repr=False)  # texts -> token rows
    prompt_token_rows: Any = field(default=None, compare=False, repr=False)  # prompts -> token rows

    def __post_init__(self) -> None:
        if self.token_rows is None:
            object.__setattr__(self, "token_rows", TokenRowCache(self.tokenizer))
        if self.prompt_token_rows is None:
            separate = self.prompt_tokenizer is not None and self.prompt_tokenizer is not self.tokenizer
            object.__setattr__(self, "prompt_token_rows", TokenRowCache(self.prompt_tokenizer) if separate else self.token_rows)

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if not items:
            raise ValueError("empty batch")
        needed = REQUIRED_KEYS + (CHUNK_KEYS if self.chunk_size is not None else ()) + (("proprio",) if self.proprio else ())
        missing = [k for k in needed if k not in items[0]]
        if missing:
            raise KeyError(f"training samples lack {missing}; a sample needs {list(needed)}")
        images = preprocess_images([np.asarray(it["image"]) for it in items], self.preprocess)
        prompts = [format_prompt(it["instruction"], self.prompt_template) for it in items]
        prompt_tokens, prompt_index = unique_tokens(self.prompt_token_rows, prompts)
        motion_ids = torch.tensor([int(it["motion_id"]) for it in items], dtype=torch.long)
        if self.motion_token_table is not None:
            n = self.motion_token_table.shape[0]
            bad = [int(i) for i in motion_ids if not 0 <= int(i) < n]
            if bad:
                raise ValueError(f"CLIP-RT-Action needs motion ids in 0..{n - 1} for every sample, got {bad[:5]}")
            uniq, motion_index = torch.unique(motion_ids, return_inverse=True)
            motion_tokens = self.motion_token_table[uniq]
        else:
            motion_tokens, motion_index = unique_tokens(self.token_rows, [str(it["supervision"]) for it in items])
        batch = {
            "images": images,
            "prompt_tokens": prompt_tokens,
            "prompt_index": prompt_index,
            "motion_tokens": motion_tokens,
            "motion_index": motion_index,
            "motion_ids": motion_ids,
            "episode_index": torch.tensor([int(it["episode_index"]) for it in items], dtype=torch.long),
            "actions": torch.from_numpy(np.stack([np.asarray(it["action"], dtype=np.float32) for it in items])),
        }
        if self.vocabulary_tokens is not None:
            batch["vocabulary_tokens"] = self.vocabulary_tokens
        if self.proprio:
            batch["proprio"] = torch.from_numpy(np.stack([np.asarray(it["proprio"], dtype=np.float32) for it in items]))
        if self.chunk_size is not None:
            chunk = np.stack([np.asarray(it["action_chunk"], dtype=np.float32) for it in items])
            mask = np.stack([np.asarray(it["chunk_mask"], dtype=bool) for it in items])
            if chunk.ndim != 3 or chunk.shape[1] < self.chunk_size or chunk.shape[2] != 8:
                raise ValueError(f"action_chunk must be (K >= {self.chunk_size}, 8) per sample, got {chunk.shape[1:]}")
            chunk, mask = chunk[:, : self.chunk_size], mask[:, : self.chunk_size]
            if self.action_indices is not None:
                chunk = chunk[:, :, list(self.action_indices)]
            target = torch.from_numpy(np.ascontiguousarray(chunk))
            if self.action_scale is not None:
                target = target / self.action_scale
            batch["action_chunk"] = target
            batch["chunk_mask"] = torch.from_numpy(np.ascontiguousarray(mask))
        return batch


def collator_for(
    model: Any, vocabulary: Any, *, with_chunks: bool | None = None, with_vocabulary: bool = False
) -> MotionBatchCollator:
    """The collate function matching ``model`` (a :class:`~cliprt_agents.model.CLIPRT`).

    ``with_vocabulary`` adds every motion's token row to each batch (the whole-vocabulary loss).
    """
    from cliprt_agents.model import motion_token_rows

    cfg = model.config
    table = motion_token_rows(model, vocabulary) if cfg.variant == "action_tokens" else None
    plus = cfg.variant == "plus" if with_chunks is None else with_chunks
    return MotionBatchCollator(
        tokenizer=model.tokenizer,
        prompt_tokenizer=model.prompt_tokenizer,
        preprocess=model.preprocess,
        prompt_template=cfg.prompt_template,
        motion_token_table=table,
        chunk_size=cfg.chunk_size if plus else None,
        action_indices=cfg.action_indices if plus else None,
        action_scale=model.action_scale.detach().cpu().clone() if plus else None,
        vocabulary_tokens=motion_token_rows(model, vocabulary) if with_vocabulary else None,
        proprio=cfg.proprio,
    )


def worker_init(_: int) -> None:
    """One torch thread per DataLoader worker (workers run in parallel already); freed memory kept for reuse."""
    from cliprt_agents.distributed import keep_freed_memory

    torch.set_num_threads(1)
    keep_freed_memory()
