"""The three variants on the tiny open_clip model: shapes, the context formula, no new parameters."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cliprt_agents.config import PROMPT_TEMPLATE, ModelConfig, format_prompt
from cliprt_agents.data import collator_for
from cliprt_agents.model import fuse, motion_token_rows
from cliprt_agents.text import action_token_ids, action_token_table, placeholder_position


def test_prompt_is_the_papers_with_a_lower_cased_instruction():
    assert format_prompt("Pick up the RED cube") == (
        "what motion should the robot arm perform to complete the instruction 'pick up the red cube'?"
    )
    assert "{instruction}" in PROMPT_TEMPLATE


def test_language_variant_adds_no_parameters_to_clip(make_model):
    model = make_model("language")
    clip_params = {f"clip.{n}" for n, _ in model.clip.named_parameters()}
    assert {n for n, _ in model.named_parameters()} == clip_params


def test_context_is_normalised_sum_and_logits_are_scaled_cosines(make_model, vocabulary, toy_data):
    model = make_model("language")
    batch = collator_for(model, vocabulary)([toy_data[i] for i in range(6)])
    with torch.no_grad():
        out = model(batch["images"], batch["prompt_tokens"], batch["prompt_index"], batch["motion_tokens"], batch["motion_index"])
        img = model.clip.encode_image(batch["images"])
        txt = model.clip.encode_text(batch["prompt_tokens"])[batch["prompt_index"]]
        mot = model.clip.encode_text(batch["motion_tokens"])[batch["motion_index"]]
    assert torch.allclose(out["context"], F.normalize(img + txt, dim=-1), atol=1e-5)
    assert torch.allclose(out["motion"], F.normalize(mot, dim=-1), atol=1e-5)
    assert torch.allclose(out["context"].norm(dim=-1), torch.ones(6), atol=1e-5)
    assert out["logit_scale"].item() == pytest.approx(1 / 0.07, rel=1e-4)  # CLIP's initial temperature


def test_batch_motions_take_the_vocabulary_rows_and_encode_only_the_rest(make_model, vocabulary, toy_data):
    model = make_model("language")
    batch = collator_for(model, vocabulary, with_vocabulary=True)([toy_data[i] for i in range(8)])
    motions = batch["motion_tokens"].clone()
    motions[0] = model.tokenizer(["scoot the arm a bit to the left"])[0]  # paraphrased supervision
    seen = []
    encode = model.encode_text
    model.encode_text = lambda tokens: seen.append(tokens.shape[0]) or encode(tokens)
    names = ("images", "prompt_tokens", "prompt_index")
    with torch.no_grad():
        out = model(*(batch[k] for k in names), motions, batch["motion_index"], batch["vocabulary_tokens"])
        mot = model.clip.encode_text(motions)[batch["motion_index"]]
        voc = model.clip.encode_text(batch["vocabulary_tokens"])
    assert seen == [batch["prompt_tokens"].shape[0], len(vocabulary), 1]  # only the paraphrase is encoded again
    assert torch.allclose(out["motion"], F.normalize(mot, dim=-1), atol=1e-5)
    assert torch.allclose(out["vocabulary"], F.normalize(voc, dim=-1), atol=1e-5)


def test_action_token_variant_feeds_one_token_per_motion(make_model, vocabulary):
    model = make_model("action_tokens")
    rows = motion_token_rows(model, vocabulary)
    assert rows.shape[0] == len(vocabulary)
    pos = placeholder_position(model.tokenizer)
    assert pos == 1
    assert len(set(rows[:, pos].tolist())) == len(vocabulary)
    assert rows[:, pos].max() < model.tokenizer.eot_token_id  # CLIP pools at the largest id: keep EOT largest
    # Everything else in a row is the same <sot> ... <eot> frame.
    others = rows.clone()
    others[:, pos] = 0
    assert (others == others[0]).all()


def test_action_token_ids_avoid_special_tokens(make_model):
    tok = make_model().tokenizer
    ids = action_token_ids(tok, 58, 49408)
    assert tok.sot_token_id not in ids and tok.eot_token_id not in ids
    table = action_token_table(tok, ids[:2])
    assert table.shape == (2, 77)


def test_action_variant_scores_do_not_depend_on_supervision_text(make_model, vocabulary, toy_data):
    model = make_model("action_tokens")
    collate = collator_for(model, vocabulary)
    items = [dict(toy_data[i]) for i in range(4)]
    a = collate(items)
    for it in items:
        it["supervision"] = "something else entirely"
    b = collate(items)
    assert torch.equal(a["motion_tokens"], b["motion_tokens"])


@pytest.mark.parametrize("dims", [(0, 1, 2, 3, 4, 5, 7), tuple(range(8))])
def test_plus_decodes_chunks_in_one_pass(make_model, vocabulary, toy_data, dims):
    model = make_model("plus", action_indices=dims, chunk_size=4)
    batch = collator_for(model, vocabulary)([toy_data[i] for i in range(3)])
    with torch.no_grad():
        out = model(batch["images"], batch["prompt_tokens"], batch["prompt_index"])
    assert out["chunk"].shape == (3, 4, len(dims))
    assert batch["action_chunk"].shape == (3, 4, len(dims))
    # The decoder has 2 + K*D learned positions and a transformer shaped like the text tower.
    assert model.decoder.positional_embedding.shape == (2 + 4 * len(dims), 128)
    assert len(model.decoder.transformer.resblocks) == 2


def test_plus_decoder_is_not_causal(make_model, vocabulary, toy_data):
    # Changing the instruction (token 1) changes the first action's output: tokens see later/earlier ones.
    model = make_model("plus", chunk_size=2)
    img = torch.randn(1, model.embed_dim)
    a = model.decode_actions(img, torch.randn(1, model.embed_dim))
    b = model.decode_actions(img, torch.randn(1, model.embed_dim))
    assert not torch.allclose(a, b)


def test_config_validation():
    with pytest.raises(ValueError, match="variant"):
        ModelConfig(variant="diffusion")
    with pytest.raises(ValueError, match="action_indices"):
        ModelConfig(action_indices=(0, 0))
    assert ModelConfig(pretrained="none").pretrained is None
    cfg = ModelConfig(variant="plus", chunk_size=4)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_fusion_is_validated_and_round_trips():
    with pytest.raises(ValueError, match="fusion"):
        ModelConfig(fusion="concat")
    cfg = ModelConfig(fusion="product")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert ModelConfig.from_dict({"backbone": "ViT-B-32"}).fusion == "sum"  # checkpoints from before the option


def test_product_fusion_is_the_context_of_the_model(make_model, vocabulary, toy_data):
    model = make_model("language", fusion="product")
    batch = collator_for(model, vocabulary)([toy_data[i] for i in range(4)])
    with torch.no_grad():
        out = model(batch["images"], batch["prompt_tokens"], batch["prompt_index"])
        i = F.normalize(model.clip.encode_image(batch["images"]), dim=-1)
        p = F.normalize(model.clip.encode_text(batch["prompt_tokens"])[batch["prompt_index"]], dim=-1)
    expected = F.normalize(i + p + i.shape[-1] ** 0.5 * i * p, dim=-1)
    assert torch.allclose(out["context"], expected, atol=1e-5)


def _fit_xor(fusion: str, steps: int = 400) -> float:
    """Free image/instruction/motion embeddings fitted to choose 'left' iff image and instruction disagree.

    Two scenes (red object left or right) x two instructions (go to red / blue):
    the answer depends on both, an XOR.
    """
    torch.manual_seed(0)
    dim = 8
    images, prompts, motions = (torch.randn(2, dim, requires_grad=True) for _ in range(3))
    target = torch.tensor([[0, 1], [1, 0]])  # motion index for (scene, instruction)
    opt = torch.optim.Adam([images, prompts, motions], lr=0.05)
    for _ in range(steps):
        ctx = fuse(images[:, None].expand(2, 2, dim), prompts[None].expand(2, 2, dim), fusion)
        logits = 10 * ctx @ F.normalize(motions, dim=-1).T
        loss = F.cross_entropy(logits.reshape(4, 2), target.reshape(4))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float((logits.argmax(-1) == target).float().mean())


def test_sum_fusion_cannot_choose_by_name_product_can():
    """Why ``fusion="product"`` exists: with the paper's sum, scores are additive in image and instruction."""
    assert _fit_xor("sum") <= 0.75
    assert _fit_xor("product") == 1.0
