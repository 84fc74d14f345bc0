"""The faster training paths change no number: the trainer takes the steps of a plain loop on the earlier data path."""

from __future__ import annotations

import json

import torch

from cliprt_agents.config import TINY_CONV_MODEL, ModelConfig, TrainConfig
from cliprt_agents.distributed import keep_freed_memory

MODEL = ModelConfig(backbone=TINY_CONV_MODEL, fusion="product", image_size=64)


def _plain_loop(cfg: TrainConfig, data, vocabulary) -> tuple[list[float], dict[str, torch.Tensor]]:
    """The training steps (of one epoch) written out without the trainer, tokenising every text again (the earlier data path)."""
    from dataclasses import replace

    from cliprt_agents.data import collator_for
    from cliprt_agents.distributed import EpochBatchSampler
    from cliprt_agents.model import MAX_LOGIT_SCALE, build_model
    from cliprt_agents.objective import compute_loss, freeze_unused
    from cliprt_agents.optim import lr_at, make_optimizer

    torch.manual_seed(cfg.seed)
    model = build_model(MODEL, vocabulary)
    freeze_unused(model, True)
    optimizer = make_optimizer(model, cfg)
    collate = collator_for(model, vocabulary, with_vocabulary=True)
    collate = replace(collate, token_rows=model.tokenizer)  # no cache
    sampler = EpochBatchSampler(len(data), cfg.batch_size, 0, 1, cfg.seed)
    losses = []
    for step, indices in enumerate(sampler):
        if step == cfg.max_steps:
            break
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg.lr, cfg.warmup_steps, cfg.max_steps)
        loss, _ = compute_loss(model, collate([data[i] for i in indices]), "language", 0.0)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            model.logit_scale_param.clamp_(0.0, MAX_LOGIT_SCALE)
        losses.append(loss.item())
    return losses, model.state_dict()


def test_the_trainer_takes_the_steps_of_a_plain_loop(tmp_path, vocabulary):
    from cliprt_agents.checkpoint import load_model
    from cliprt_agents.synthetic import SyntheticMotionDataset
    from cliprt_agents.train import train

    data = SyntheticMotionDataset(96, image_size=48, seed=4, paraphrase=True)  # 48 px: the collator resizes
    cfg = TrainConfig(
        max_steps=5, batch_size=16, lr=1e-3, warmup_steps=2, num_workers=0, val_fraction=0.0, log_every=1, progress=False
    )
    result = train(MODEL, cfg, data, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    expected, state = _plain_loop(cfg, data, vocabulary)
    assert [row["loss"] for row in rows] == expected  # the same floats, not just close
    # throughput in the metrics from the second step on (the first is not timed)
    assert "samples_per_second" not in rows[0] and rows[-1]["samples_per_second"] > 0
    assert 0 < rows[-1]["cpu_seconds_per_step"] < 60
    trained, _ = load_model(result.model_dir)
    for name, value in trained.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_freed_memory_is_kept_on_linux():
    import sys

    kept = keep_freed_memory()
    assert kept or not sys.platform.startswith("linux")
    assert keep_freed_memory() == kept  # calling again is harmless
