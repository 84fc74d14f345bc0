"""Contrastive training of the in-project video-language encoder on twin episodes.

Each batch scores instructions against episode videos. An instruction's
positives are the successful episodes with the same instruction; failed
episodes (near misses) are negatives for every instruction and have no text
of their own, so the encoder learns that a video that did not do the task
scores low: what a reward needs.
"""

from __future__ import annotations

import numpy as np

from cliprt_agents.roboclip.config import EncoderTraining, TrainedEncoderConfig
from cliprt_agents.roboclip.encoders.trained import TrainedVideoEncoder, VideoTextModel, words
from cliprt_agents.roboclip.record import RecordedEpisode


def contrastive_loss(model: VideoTextModel, videos, texts: list[str], goals: list[str], success: np.ndarray):
    """Symmetric InfoNCE over (successful texts) x (all videos); a text's positives: successes with its goal."""
    import torch
    from torch.nn import functional as F

    z_v = model.encode_video(videos)
    ok = np.flatnonzero(success)
    if len(ok) == 0:
        return None
    z_t = model.encode_text([texts[i] for i in ok])
    logits = model.logit_scale.exp().clamp(max=100) * z_t @ z_v.T  # (S, B)
    same = np.array([[success[j] and goals[j] == goals[i] for j in range(len(texts))] for i in ok], dtype=np.float32)
    target = torch.as_tensor(same / same.sum(axis=1, keepdims=True))
    text_to_video = -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    video_rows = logits[:, ok].T  # each successful video against the batch's successful texts
    same_rows = torch.as_tensor(same[:, :].T[ok])
    video_to_text = -(same_rows / same_rows.sum(1, keepdim=True) * F.log_softmax(video_rows, dim=1)).sum(1).mean()
    return (text_to_video + video_to_text) / 2


def train_encoder(
    episodes: list[RecordedEpisode], config: TrainedEncoderConfig, training: EncoderTraining, progress: bool = True
) -> tuple[TrainedVideoEncoder, list[float]]:
    """Train on recorded episodes; returns the encoder and the loss per step."""
    import torch
    from tqdm.auto import tqdm

    if not any(e.success for e in episodes):
        raise ValueError("no successful episode to learn from: record more episodes (the expert's)")
    torch.manual_seed(training.seed)
    rng = np.random.default_rng(training.seed)
    vocabulary = sorted({w for e in episodes for w in words(e.instruction)})
    model = VideoTextModel(config, vocabulary)
    opt = torch.optim.AdamW(model.parameters(), lr=training.learning_rate, weight_decay=1e-4)
    clips = torch.as_tensor(np.stack([e.clip for e in episodes]))  # uint8, converted per batch
    texts = [e.instruction for e in episodes]
    goals = [e.goal or e.instruction for e in episodes]
    success = np.array([e.success for e in episodes])
    losses: list[float] = []
    model.train()
    for _ in tqdm(range(training.steps), desc="train encoder", disable=not progress):
        idx = rng.choice(len(episodes), size=min(training.batch_size, len(episodes)), replace=False)
        loss = contrastive_loss(model, clips[idx].float() / 255.0, [texts[i] for i in idx], [goals[i] for i in idx], success[idx])
        if loss is None:
            continue
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return TrainedVideoEncoder(model, config, vocabulary), losses


def retrieval_accuracy(encoder: TrainedVideoEncoder, episodes: list[RecordedEpisode]) -> dict[str, float]:
    """Checks: a text's best successful video has its goal (top-1); its goal's successes outrank its failures."""
    clips = np.stack([e.clip for e in episodes]).astype(np.float32) / 255.0
    z_v = encoder.embed_videos(clips)
    texts = sorted({(e.instruction, e.goal) for e in episodes if e.success})
    z_t = encoder.embed_texts([t for t, _ in texts])
    sims = z_t @ z_v.T
    success = np.array([e.success for e in episodes])
    hits, pairs, wins = 0, 0, 0
    for i, (_, goal) in enumerate(texts):
        mine = np.array([e.goal == goal for e in episodes])
        hits += int(mine[np.argmax(np.where(success, sims[i], -np.inf))])
        good, bad = sims[i][mine & success], sims[i][mine & ~success]
        pairs += len(good) * len(bad)
        wins += int((good[:, None] > bad[None, :]).sum())
    return {"text_to_video_top1": hits / max(len(texts), 1), "success_over_failure": wins / max(pairs, 1)}
