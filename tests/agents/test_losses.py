"""Contrastive imitation loss on hand-made batches, and the masked chunk L1."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cliprt_agents.losses import chunk_l1_loss, cil_labels, cil_logits, cil_loss
from cliprt_agents.model import MAX_LOGIT_SCALE


def test_labels_mark_diagonal_and_shared_actions():
    ids = torch.tensor([3, 5, 3, 7, 5])
    y = cil_labels(ids)
    expected = torch.tensor(
        [
            [1, 0, 1, 0, 0],
            [0, 1, 0, 0, 1],
            [1, 0, 1, 0, 0],
            [0, 0, 0, 1, 0],
            [0, 1, 0, 0, 1],
        ],
        dtype=torch.float32,
    )
    assert torch.equal(y, expected)


def test_unknown_actions_are_only_positive_with_themselves():
    y = cil_labels(torch.tensor([-1, -1, 2]))
    assert torch.equal(y, torch.eye(3))


def test_loss_is_mean_bce_over_all_pairs_by_hand():
    # Two samples share an action (ids 4, 4); the third differs. Features chosen by hand.
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [math.sqrt(0.5), math.sqrt(0.5)]])
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    scale = torch.tensor(10.0)
    loss = cil_loss(c, z, torch.tensor([4, 4, 9]), scale)
    y = [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
    total = 0.0
    for i in range(3):
        for j in range(3):
            logit = 10.0 * float(c[i] @ z[j])
            p = 1.0 / (1.0 + math.exp(-logit))
            total += -(y[i][j] * math.log(p) + (1 - y[i][j]) * math.log(1 - p))
    assert loss.item() == pytest.approx(total / 9, rel=1e-6)


def test_shared_action_makes_a_paraphrase_a_positive():
    # Same context; supervision 1 is a paraphrase of supervision 0 (same action).
    c = F.normalize(torch.tensor([[1.0, 0.2], [1.0, 0.2]]), dim=-1)
    z = F.normalize(torch.tensor([[1.0, 0.2], [1.0, 0.25]]), dim=-1)
    scale = torch.tensor(20.0)
    same = cil_loss(c, z, torch.tensor([0, 0]), scale)
    different = cil_loss(c, z, torch.tensor([0, 1]), scale)
    assert same < different  # labelling them negatives would punish a correct, aligned pair


def test_aligned_pairs_and_opposed_negatives_give_low_loss():
    # Two contexts, each aligned with its own supervision and opposed to the other's.
    c = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    good = cil_loss(c, c, torch.arange(2), torch.tensor(100.0))
    bad = cil_loss(c, c.flip(0), torch.arange(2), torch.tensor(100.0))
    assert good < 1e-6 and bad > 10


def test_logits_use_the_given_scale():
    c = torch.eye(2)
    assert torch.allclose(cil_logits(c, c, torch.tensor(3.0)), 3.0 * torch.eye(2))


def test_logit_scale_is_clamped_to_100(make_model):
    model = make_model()
    with torch.no_grad():
        model.clip.logit_scale.fill_(10.0)
    assert model.logit_scale().item() == pytest.approx(100.0, rel=1e-5)
    assert pytest.approx(math.log(100)) == MAX_LOGIT_SCALE


def test_chunk_l1_ignores_steps_past_the_episode_end():
    pred = torch.zeros(1, 3, 2)
    target = torch.tensor([[[1.0, 1.0], [2.0, 2.0], [100.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])
    assert chunk_l1_loss(pred, target, mask).item() == pytest.approx(1.5)
