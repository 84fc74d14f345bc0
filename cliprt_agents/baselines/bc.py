"""Behaviour cloning with a small CNN: what an ordinary imitation learner does.

The image (downsized) goes through a conv net, the instruction through the
hashing features of :mod:`features`; their concatenation is classified into
one of the vocabulary's motions with cross-entropy. Same data as CLIP-RT
(items with ``image``, ``instruction``, ``motion_id``, ``episode_index``), no
language model, no knowledge that motions are language.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cliprt_agents.baselines.configs import BCConfig
from cliprt_agents.baselines.features import instruction_matrix, resize_images
from cliprt_agents.checkpoint import write_json_atomic
from cliprt_agents.devices import resolve_device
from cliprt_envs.motions import Vocabulary

if TYPE_CHECKING:
    from cliprt_agents.registry import AgentSpec

CONFIG_FILE = "bc_config.json"
WEIGHTS_FILE = "bc_model.safetensors"


class BCNet(nn.Module):
    def __init__(self, config: BCConfig, n_motions: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in config.channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(8, c), nn.ReLU(inplace=True)]
            c_in = c
        self.conv = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(c_in * 4 + config.text_dim, config.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.hidden, n_motions),
        )

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        x = self.conv(images.float() / 255.0 - 0.5)
        x = F.adaptive_avg_pool2d(x, 2).flatten(1)  # a little spatial layout survives
        return self.head(torch.cat([x, text], dim=1))


def _random_shift(images: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Pad by replication and crop back at a random offset per image (DrQ-style)."""
    if pad <= 0:
        return images
    n, c, h, w = images.shape
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
    return padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]


def _arrays(dataset, config: BCConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode the whole dataset once: images (N,3,S,S) uint8, text (N,D), labels, episodes."""
    images, texts, labels, episodes = [], [], [], []
    for i in range(len(dataset)):
        item = dataset[i]
        if int(item["motion_id"]) < 0:
            continue  # samples without a motion label cannot supervise a classifier
        images.append(resize_images(np.asarray(item["image"]), config.image_size))
        texts.append(item["instruction"])
        labels.append(int(item["motion_id"]))
        episodes.append(int(item["episode_index"]))
    if not images:
        raise ValueError("the dataset has no labelled samples to clone")
    return (
        np.stack(images).transpose(0, 3, 1, 2).copy(),
        instruction_matrix(texts, config.text_dim),
        np.array(labels),
        np.array(episodes),
    )


def train_bc(dataset, vocabulary: Vocabulary, config: BCConfig, out: str | Path, progress: bool = True) -> dict:
    """Train on ``dataset``; save the best-validation model under ``out``; return metrics."""
    from safetensors.torch import save_model
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    images, text, labels, episodes = _arrays(dataset, config)
    if labels.max() >= len(vocabulary):
        raise ValueError(f"motion id {labels.max()} is outside the vocabulary of {len(vocabulary)} motions")
    rng = np.random.default_rng(config.seed)
    eps = np.unique(episodes)
    n_val = int(round(len(eps) * config.val_fraction)) if len(eps) > 1 else 0
    val_eps = set(rng.choice(eps, size=n_val, replace=False).tolist()) if n_val else set()
    is_val = np.array([e in val_eps for e in episodes])
    tr = np.flatnonzero(~is_val)
    images_t, text_t, labels_t = torch.from_numpy(images), torch.from_numpy(text), torch.from_numpy(labels)
    model = BCNet(config, len(vocabulary))
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(tr) / config.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, config.lr, total_steps=config.epochs * steps_per_epoch)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    best, history = -1.0, []
    bar = tqdm(range(config.epochs), desc="BC", disable=not progress)
    for epoch in bar:
        model.train()
        order = tr[torch.randperm(len(tr), generator=gen).numpy()]
        total = 0.0
        for b in range(steps_per_epoch):
            idx = torch.from_numpy(order[b * config.batch_size : (b + 1) * config.batch_size])
            x = _random_shift(images_t[idx], config.shift, gen)
            loss = F.cross_entropy(model(x, text_t[idx]), labels_t[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        train_loss = total / len(tr)
        val_acc = _accuracy(model, images_t, text_t, labels_t, np.flatnonzero(is_val)) if val_eps else None
        train_acc = _accuracy(model, images_t, text_t, labels_t, tr[:2048])
        history.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "val_acc": val_acc})
        bar.set_postfix(loss=f"{train_loss:.3f}", val=f"{val_acc:.2f}" if val_acc is not None else "-")
        score = val_acc if val_acc is not None else train_acc
        if score >= best:
            best = score
            save_model(model, str(out / WEIGHTS_FILE))
            write_json_atomic(
                out / CONFIG_FILE,
                {"config": asdict(config), "vocabulary": vocabulary.to_dict(), "epoch": epoch, "metrics": history[-1]},
            )
    (out / "bc_history.json").write_text(json.dumps(history, indent=2))
    return {"best": best, "history": history, "train_samples": int(len(tr)), "val_samples": int(is_val.sum())}


@torch.no_grad()
def _accuracy(model: BCNet, images, text, labels, idx: np.ndarray) -> float:
    if len(idx) == 0:
        return float("nan")
    model.eval()
    correct = 0
    for b in range(0, len(idx), 256):
        sel = torch.from_numpy(idx[b : b + 256])
        correct += int((model(images[sel], text[sel]).argmax(1) == labels[sel]).sum())
    model.train()
    return correct / len(idx)


class BCAgent:
    """A trained BC classifier behind the Agent protocol."""

    continuous = False
    needs_env = False

    def __init__(self, path: str | Path, device: str = "cpu", vocabulary: Vocabulary | None = None) -> None:
        from safetensors.torch import load_model

        self.device = resolve_device(device)
        path = Path(path)
        if not (path / CONFIG_FILE).is_file() or not (path / WEIGHTS_FILE).is_file():
            raise FileNotFoundError(f"{path} is not a BC checkpoint (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
        meta = json.loads((path / CONFIG_FILE).read_text())
        cfg = dict(meta["config"])
        cfg["channels"] = tuple(cfg["channels"])
        self.config = BCConfig(**cfg)
        self.vocabulary = Vocabulary.from_dict(meta["vocabulary"])
        if vocabulary is not None and vocabulary.texts != self.vocabulary.texts:
            raise ValueError(
                f"{path} was trained on vocabulary {self.vocabulary.name!r}, not {vocabulary.name!r}; "
                "a classifier cannot take new motions"
            )
        self.model = BCNet(self.config, len(self.vocabulary))
        load_model(self.model, str(path / WEIGHTS_FILE))
        self.model.to(self.device).eval()

    def reset(self, instruction: str | Sequence[str] | None = None, env_index: int | None = None) -> None:
        """Stateless."""

    @torch.no_grad()
    def scores(self, observation: dict[str, Any]) -> np.ndarray:
        image = np.asarray(observation["image"])
        single = image.ndim == 3
        images = resize_images(image[None] if single else image, self.config.image_size)
        texts = [observation["instruction"]] if single else list(observation["instruction"])
        x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).to(self.device)
        t = torch.from_numpy(instruction_matrix(texts, self.config.text_dim)).to(self.device)
        probs = self.model(x, t).softmax(-1).cpu().numpy()
        return probs[0] if single else probs

    def act(self, observation: dict[str, Any]):
        s = self.scores(observation)
        return int(s.argmax()) if s.ndim == 1 else s.argmax(axis=1)


def bc_agent(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> BCAgent:
    """Registry factory (``bc=CHECKPOINT``)."""
    return BCAgent(spec.require_checkpoint(), vocabulary=vocabulary)
