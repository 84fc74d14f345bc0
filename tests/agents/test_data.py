"""Collate (preprocessing + tokenisation in workers), episode splits, chunks, the toy task."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from cliprt_agents.data import (
    InMemoryMotionDataset,
    TokenRowCache,
    collator_for,
    episode_chunks,
    split_by_episode,
    worker_init,
)
from cliprt_agents.synthetic import SyntheticMotionDataset


def test_collate_deduplicates_texts_and_keeps_order(make_model, vocabulary, toy_data):
    model = make_model()
    items = [toy_data[i] for i in range(16)]
    batch = collator_for(model, vocabulary)(items)
    assert batch["images"].shape == (16, 3, 64, 64)
    assert batch["prompt_tokens"].shape[0] <= 16
    assert batch["motion_tokens"].shape[0] == len({it["supervision"] for it in items})
    # Indexing the unique rows back gives each sample's own tokens.
    for i, it in enumerate(items):
        expected = model.tokenizer([it["supervision"]])[0]
        assert torch.equal(batch["motion_tokens"][batch["motion_index"][i]], expected)
    assert batch["motion_ids"].tolist() == [it["motion_id"] for it in items]


def test_collate_runs_in_dataloader_workers(make_model, vocabulary, toy_data):
    model = make_model()
    loader = DataLoader(
        toy_data, batch_size=8, collate_fn=collator_for(model, vocabulary), num_workers=1, worker_init_fn=worker_init
    )
    batch = next(iter(loader))
    assert batch["images"].dtype == torch.float32 and batch["images"].shape[0] == 8


def test_missing_keys_and_bad_ids_are_reported(make_model, vocabulary, toy_data):
    collate = collator_for(make_model(), vocabulary)
    item = dict(toy_data[0])
    del item["supervision"]
    with pytest.raises(KeyError, match="supervision"):
        collate([item])
    plus = collator_for(make_model("plus"), vocabulary)
    item = {k: v for k, v in toy_data[0].items() if k != "action_chunk"}
    with pytest.raises(KeyError, match="action_chunk"):
        plus([item])
    action = collator_for(make_model("action_tokens"), vocabulary)
    with pytest.raises(ValueError, match="motion ids"):
        action([{**toy_data[0], "motion_id": -1}])


def test_plus_targets_are_selected_and_normalised(make_model, vocabulary, toy_data):
    model = make_model("plus")
    batch = collator_for(model, vocabulary)([toy_data[i] for i in range(4)])
    raw = np.stack([toy_data[i]["action_chunk"] for i in range(4)])[:, :, [0, 1, 2, 3, 4, 5, 7]]
    assert torch.allclose(batch["action_chunk"] * model.action_scale, torch.from_numpy(raw), atol=1e-6)
    assert batch["action_chunk"].abs().max() <= 1.0 + 1e-6  # vocabulary-scaled to about [-1, 1]


def test_episode_chunks_pad_and_mask_past_the_end():
    actions = np.arange(3 * 8, dtype=np.float32).reshape(3, 8)
    chunks, mask = episode_chunks(actions, 4)
    assert chunks.shape == (3, 4, 8)
    assert mask.tolist() == [[True, True, True, False], [True, True, False, False], [True, False, False, False]]
    assert np.array_equal(chunks[1, 1], actions[2]) and not chunks[2, 1].any()


def test_split_holds_out_whole_episodes():
    data = SyntheticMotionDataset(100, episode_length=5)
    train, val = split_by_episode(data, 0.2, seed=1)
    train_eps = {int(data.episode_indices[i]) for i in train.indices}
    val_eps = {int(data.episode_indices[i]) for i in val.indices}
    assert train_eps.isdisjoint(val_eps) and len(val_eps) == 4
    assert len(train) + len(val) == 100
    one = InMemoryMotionDataset([dict(data[i], episode_index=0) for i in range(5)])
    assert split_by_episode(one, 0.5)[1] is None


def test_toy_task_needs_image_and_instruction():
    data = SyntheticMotionDataset(400, seed=3)
    # Same instruction axis, different square side -> different motions; and vice versa.
    by_instruction: dict[str, set[int]] = {}
    for i in range(len(data)):
        it = data[i]
        by_instruction.setdefault(it["instruction"], set()).add(it["motion_id"])
    assert all(len(ids) == 2 for ids in by_instruction.values())  # the image decides between two
    assert len({data[i]["motion_id"] for i in range(len(data))}) == 4  # the instruction picks the axis
    again = SyntheticMotionDataset(400, seed=3)
    assert np.array_equal(again[7]["image"], data[7]["image"])  # deterministic per index


def test_cached_token_rows_equal_the_tokenizers(make_model):
    tokenizer = make_model().tokenizer
    cache = TokenRowCache(tokenizer, max_texts=5)
    texts = ["move left", "move the arm up by 5 cm", "move left", "close the gripper"]
    for _ in range(2):  # misses, then hits
        assert torch.equal(cache(texts), tokenizer(texts))
    many = [f"move {i} cm" for i in range(7)]  # past max_texts: starts over, rows still right
    assert torch.equal(cache(many), tokenizer(many)) and len(cache.rows) <= 7
    out = cache(["move left"])
    out.zero_()  # a returned batch is the caller's: the cache keeps its own rows
    assert torch.equal(cache(["move left"]), tokenizer(["move left"]))


def test_a_tokenizer_with_rows_of_varying_width_is_called_every_time():
    def pad_to_longest(texts):
        width = max(len(t) for t in texts)
        return torch.tensor([[len(t)] * len(t) + [0] * (width - len(t)) for t in texts])

    cache = TokenRowCache(pad_to_longest)
    assert torch.equal(cache(["ab"]), pad_to_longest(["ab"]))
    assert torch.equal(cache(["abc", "ab"]), pad_to_longest(["abc", "ab"]))
    assert not cache.enabled and torch.equal(cache(["ab"]), pad_to_longest(["ab"]))


@pytest.mark.parametrize("variant", ["language", "action_tokens", "plus"])
def test_collate_with_cached_tokens_equals_direct_tokenisation(make_model, vocabulary, variant):
    """Batch for batch, the collator gives what tokenising every text again gave (the earlier path)."""
    from cliprt_agents.config import format_prompt
    from cliprt_agents.text import unique_tokens

    model = make_model(variant)
    collate = collator_for(model, vocabulary, with_vocabulary=variant != "plus")
    data = SyntheticMotionDataset(64, seed=5, paraphrase=True)
    for start in (0, 16, 0, 32):  # repeated batches come from the cache
        items = [data[i] for i in range(start, start + 16)]
        batch = collate(items)
        prompts = [format_prompt(it["instruction"], model.config.prompt_template) for it in items]
        tokens, index = unique_tokens(model.tokenizer, prompts)
        assert torch.equal(batch["prompt_tokens"], tokens) and torch.equal(batch["prompt_index"], index)
        if variant != "action_tokens":
            tokens, index = unique_tokens(model.tokenizer, [it["supervision"] for it in items])
            assert torch.equal(batch["motion_tokens"], tokens) and torch.equal(batch["motion_index"], index)
