"""Behaviour cloning with a small CNN: what an ordinary imitation learner does.

The image (downsized) goes through a conv net, the instruction through the
hashing features of :mod:`features`; their concatenation is classified into
one of the vocabulary's motions with cross-entropy. Same data as CLIP-RT
(items with ``image``, ``instruction``, ``motion_id``, ``episode_index``), no
language model, no knowledge that motions are language.

With ``BCConfig.init_from`` the CNN is replaced by the image tower of a
CLIP-RT checkpoint (``model.clip.visual``, with that checkpoint's
preprocessing): "BC initialised from the same pretrained image tower", the
fair comparison for a CLIP-RT model fine-tuned from that checkpoint. The
tower is fine-tuned with the same cross-entropy at ``tower_lr_scale`` times
the head's learning rate. The saved model is self-contained: the tower's
CLIP-RT model config travels in the JSON, so it is rebuilt from open_clip's
architecture and the safetensors weights alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
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
from cliprt_agents.image_shift import random_shift
from cliprt_agents.preprocess import PreprocessSpec, preprocess_images
from cliprt_agents.revisits import revisit_memory, revisits_from_options
from cliprt_agents.selection import MotionSelection
from cliprt_envs.motions import Vocabulary

if TYPE_CHECKING:
    from cliprt_agents.registry import AgentSpec

CONFIG_FILE = "bc_config.json"
WEIGHTS_FILE = "bc_model.safetensors"


def condition_dim(config: BCConfig) -> int:
    """The length of what conditions the image features: instruction features, then proprioception if read."""
    from cliprt_agents.model import PROPRIO_DIM

    return config.text_dim + (PROPRIO_DIM if config.proprio else 0)


def condition_matrix(texts: Sequence[str], proprio: Any, config: BCConfig) -> np.ndarray:
    """``(N, condition_dim)``: hashed instruction features, then the scaled proprioception (``config.proprio``)."""
    from cliprt_agents.model import PROPRIO_INPUT_SCALE, proprio_rows

    text = instruction_matrix(texts, config.text_dim)
    if not config.proprio:
        return text
    if proprio is None:
        raise ValueError("this BC model reads proprioception: every sample and observation needs 'proprio'")
    rows = proprio_rows(proprio, text.shape[0])
    return np.concatenate([text, rows * np.asarray(PROPRIO_INPUT_SCALE, np.float32)], axis=1)


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
            nn.Linear(c_in * 4 + condition_dim(config), config.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.hidden, n_motions),
        )

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        x = self.conv(images.float() / 255.0 - 0.5)
        x = F.adaptive_avg_pool2d(x, 2).flatten(1)  # a little spatial layout survives
        return self.head(torch.cat([x, text], dim=1))


class BCTowerNet(nn.Module):
    """BC on a pretrained image tower: ``visual(image)`` + instruction features -> the BCNet head.

    ``visual`` is an open_clip image tower (or :class:`~cliprt_agents.conv_tower.ConvImageTower`)
    that maps normalised ``(B, 3, S, S)`` pixels to ``(B, embed_dim)``; a LayerNorm puts its
    output on one scale whatever the tower. ``tower_lr_scale == 0`` freezes the tower (kept in
    eval mode, so normalisation statistics stay put too): an MLP probe of the pretrained features.
    """

    def __init__(self, visual: nn.Module, embed_dim: int, config: BCConfig, n_motions: int) -> None:
        super().__init__()
        self.visual = visual
        self.frozen = config.tower_lr_scale == 0
        if self.frozen:
            self.visual.requires_grad_(False)
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Sequential(
            nn.Linear(embed_dim + condition_dim(config), config.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(config.hidden, n_motions),
        )

    def train(self, mode: bool = True) -> BCTowerNet:
        super().train(mode)
        if self.frozen:
            self.visual.eval()
        return self

    def forward(self, images: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        x = self.visual(images)
        if isinstance(x, (tuple, list)):  # open_clip towers built with output_tokens return (pooled, tokens)
            x = x[0]
        return self.head(torch.cat([self.norm(x.float()), text], dim=1))


def tower_from_checkpoint(init_from: str) -> tuple[nn.Module, PreprocessSpec, dict[str, Any]]:
    """``(image tower, its preprocessing, what rebuilds it)`` of a CLIP-RT checkpoint (path or shipped name)."""
    from cliprt_agents.checkpoint import load_model, resolve_model_dir

    model, _ = load_model(init_from, device="cpu")
    info = {
        "model": model.config.to_dict(),
        "architecture": model.architecture,
        "embed_dim": int(model.embed_dim),
        "preprocess": model.preprocess.to_dict(),
        "init_from": str(init_from),
        "source": str(resolve_model_dir(init_from)),
    }
    return model.clip.visual, model.preprocess, info


def rebuild_tower(info: dict[str, Any]) -> tuple[nn.Module, PreprocessSpec]:
    """The image tower ``info`` (from :func:`tower_from_checkpoint`) describes, randomly initialised.

    Built as :func:`~cliprt_agents.checkpoint.load_model` builds a CLIP-RT model (no open_clip
    weights are downloaded); the caller loads the trained weights.
    """
    from cliprt_agents.backbone import create_clip
    from cliprt_agents.config import ModelConfig

    config = ModelConfig.from_dict(info["model"])
    clip, _ = create_clip(config.backbone, None, image_size=config.image_size)
    return clip.visual, PreprocessSpec.from_dict(info["preprocess"])


def tower_net(config: BCConfig, n_motions: int) -> tuple[BCTowerNet, PreprocessSpec, dict[str, Any]]:
    """A :class:`BCTowerNet` whose tower holds the weights of ``config.init_from``'s image tower."""
    if not config.init_from:
        raise ValueError("tower_net needs BCConfig.init_from (a CLIP-RT checkpoint)")
    visual, spec, info = tower_from_checkpoint(config.init_from)
    return BCTowerNet(visual, info["embed_dim"], config, n_motions), spec, info


def _labelled(
    dataset, image: Callable[[np.ndarray], np.ndarray], config: BCConfig
) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """Decode the whole dataset once: ``image(item image)`` list, conditions (N, D), labels, episodes."""
    images, texts, proprio, labels, episodes = [], [], [], [], []
    for i in range(len(dataset)):
        item = dataset[i]
        if int(item["motion_id"]) < 0:
            continue  # samples without a motion label cannot supervise a classifier
        if config.proprio and "proprio" not in item:
            raise ValueError(f"BC with proprio: sample {i} has no 'proprio' (record it, or train without --proprio)")
        images.append(image(np.asarray(item["image"])))
        texts.append(item["instruction"])
        proprio.append(item.get("proprio"))
        labels.append(int(item["motion_id"]))
        episodes.append(int(item["episode_index"]))
    if not images:
        raise ValueError("the dataset has no labelled samples to clone")
    conditions = condition_matrix(texts, np.stack(proprio) if config.proprio else None, config)
    return images, conditions, np.array(labels), np.array(episodes)


def _arrays(dataset, config: BCConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode the whole dataset once: images (N,3,S,S) uint8, conditions (N,D), labels, episodes."""
    images, conditions, labels, episodes = _labelled(dataset, lambda im: resize_images(im, config.image_size), config)
    return np.stack(images).transpose(0, 3, 1, 2).copy(), conditions, labels, episodes


#: ``(model, batch of sample indices -> model images, text (N,D), labels, episodes, tower info or None)``
_Setup = tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor], torch.Tensor, np.ndarray, np.ndarray, dict[str, Any] | None]


def _setup(dataset, vocabulary: Vocabulary, config: BCConfig) -> _Setup:
    """The network to train and its inputs: the CNN on resized uint8 images, or a tower on its own preprocessing."""
    if not config.init_from:
        images, text, labels, episodes = _arrays(dataset, config)
        images_t = torch.from_numpy(images)
        return BCNet(config, len(vocabulary)), lambda idx: images_t[idx], torch.from_numpy(text), labels, episodes, None
    model, spec, info = tower_net(config, len(vocabulary))  # first: a bad checkpoint fails before the data is read
    images, conditions, labels, episodes = _labelled(dataset, lambda im: im, config)
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f"BC on an image tower needs images of one shape; the dataset has {sorted(shapes)}")
    raw = torch.from_numpy(np.stack(images))  # (N, H, W, 3) uint8, preprocessed per batch as CLIP-RT does

    def inputs(idx: torch.Tensor) -> torch.Tensor:
        return preprocess_images(raw[idx], spec)

    return model, inputs, torch.from_numpy(conditions), labels, episodes, info


def _optimiser(model: nn.Module, config: BCConfig, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW + one-cycle; a tower (if any) at ``tower_lr_scale`` times the head's peak rate."""
    groups = [{"params": list(model.parameters()), "lr": config.lr}]
    if isinstance(model, BCTowerNet):
        tower_ids = {id(p) for p in model.visual.parameters()}
        groups = [{"params": [p for p in model.parameters() if id(p) not in tower_ids], "lr": config.lr}]
        if not model.frozen:
            groups.append({"params": list(model.visual.parameters()), "lr": config.lr * config.tower_lr_scale})
    opt = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, [g["lr"] for g in groups], total_steps=total_steps)
    return opt, sched


def train_bc(dataset, vocabulary: Vocabulary, config: BCConfig, out: str | Path, progress: bool = True) -> dict:
    """Train on ``dataset``; save the best-validation model under ``out``; return metrics."""
    from safetensors.torch import save_model
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    if config.mirror:  # a mirrored copy keeps its original's episode, so it lands on the same side of the split
        from cliprt_agents.mirror import MirroredDataset

        dataset = MirroredDataset(dataset, vocabulary)
    model, inputs, text_t, labels, episodes, tower = _setup(dataset, vocabulary, config)
    if labels.max() >= len(vocabulary):
        raise ValueError(f"motion id {labels.max()} is outside the vocabulary of {len(vocabulary)} motions")
    rng = np.random.default_rng(config.seed)
    eps = np.unique(episodes)
    n_val = int(round(len(eps) * config.val_fraction)) if len(eps) > 1 else 0
    val_eps = set(rng.choice(eps, size=n_val, replace=False).tolist()) if n_val else set()
    is_val = np.array([e in val_eps for e in episodes])
    tr = np.flatnonzero(~is_val)
    labels_t = torch.from_numpy(labels)
    steps_per_epoch = max(1, math.ceil(len(tr) / config.batch_size))
    opt, sched = _optimiser(model, config, config.epochs * steps_per_epoch)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    best, history = -1.0, []
    bar = tqdm(range(config.epochs), desc="BC", disable=not progress)
    for epoch in bar:
        model.train()
        order = tr[torch.randperm(len(tr), generator=gen).numpy()]
        total, correct = 0.0, 0
        for b in range(steps_per_epoch):
            idx = torch.from_numpy(order[b * config.batch_size : (b + 1) * config.batch_size])
            x = random_shift(inputs(idx), config.shift, gen)
            logits = model(x, text_t[idx])
            loss = F.cross_entropy(logits, labels_t[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            correct += int((logits.detach().argmax(1) == labels_t[idx]).sum())
        train_loss = total / len(tr)
        val_acc = _accuracy(model, inputs, text_t, labels_t, np.flatnonzero(is_val)) if val_eps else None
        # over the epoch's batches as they were trained on (no second pass over the training set)
        train_acc = correct / len(tr)
        history.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "val_acc": val_acc})
        bar.set_postfix(loss=f"{train_loss:.3f}", val=f"{val_acc:.2f}" if val_acc is not None else "-")
        score = val_acc if val_acc is not None else train_acc
        if score >= best:
            best = score
            save_model(model, str(out / WEIGHTS_FILE))
            meta = {"config": asdict(config), "vocabulary": vocabulary.to_dict(), "epoch": epoch, "metrics": history[-1]}
            write_json_atomic(out / CONFIG_FILE, {**meta, "tower": tower} if tower is not None else meta)
    (out / "bc_history.json").write_text(json.dumps(history, indent=2))
    return {"best": best, "history": history, "train_samples": int(len(tr)), "val_samples": int(is_val.sum())}


@torch.no_grad()
def _accuracy(model: nn.Module, inputs, text, labels, idx: np.ndarray) -> float:
    if len(idx) == 0:
        return float("nan")
    model.eval()
    correct = 0
    for b in range(0, len(idx), 256):
        sel = torch.from_numpy(idx[b : b + 256])
        correct += int((model(inputs(sel), text[sel]).argmax(1) == labels[sel]).sum())
    model.train()
    return correct / len(idx)


def _probabilities(logits: np.ndarray) -> np.ndarray:
    return torch.from_numpy(logits).softmax(-1).numpy()


class BCAgent:
    """A trained BC classifier behind the Agent protocol (the CNN or a pretrained tower, as saved)."""

    continuous = False
    needs_env = False

    def __init__(
        self,
        path: str | Path,
        device: str = "cpu",
        vocabulary: Vocabulary | None = None,
        selection: MotionSelection | None = None,
        seed: int | None = None,
        revisits: str = "allow",
    ) -> None:
        from safetensors.torch import load_model

        self.device = resolve_device(device)
        self.selection = selection or MotionSelection()
        #: with ``revisits="avoid"``, the motions taken from each arm state this episode (:mod:`cliprt_agents.revisits`)
        self.revisits = revisit_memory(revisits)
        self.rng = np.random.default_rng(seed)
        #: ``scores`` of the observation(s) of the last :meth:`act`, ``(B, N)`` (None before the first)
        self.last_scores: np.ndarray | None = None
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
        #: the tower's preprocessing (None for the CNN, which sees nearest-resized uint8 pixels)
        self.spec: PreprocessSpec | None = None
        if meta.get("tower") is None:
            self.model = BCNet(self.config, len(self.vocabulary))
        else:
            visual, self.spec = rebuild_tower(meta["tower"])
            self.model = BCTowerNet(visual, int(meta["tower"]["embed_dim"]), self.config, len(self.vocabulary))
        load_model(self.model, str(path / WEIGHTS_FILE))
        self.model.to(self.device).eval()

    def reset(self, instruction: str | Sequence[str] | None = None, env_index: int | None = None) -> None:
        """Stateless, but for the revisit memory (``revisits="avoid"``)."""
        if self.revisits is not None:
            self.revisits.reset(env_index)

    @torch.no_grad()
    def scores(self, observation: dict[str, Any]) -> np.ndarray:
        """Per-motion probabilities ``softmax(logits)``: ``(N,)``, or ``(B, N)`` for a batch."""
        return _probabilities(self.logits(observation))

    @torch.no_grad()
    def logits(self, observation: dict[str, Any]) -> np.ndarray:
        image = np.asarray(observation["image"])
        single = image.ndim == 3
        texts = [observation["instruction"]] if single else list(observation["instruction"])
        if self.spec is not None:
            x = preprocess_images(image[None] if single else image, self.spec, self.device)
        else:
            images = resize_images(image[None] if single else image, self.config.image_size)
            x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).to(self.device)
        t = torch.from_numpy(condition_matrix(texts, observation.get("proprio"), self.config)).to(self.device)
        logits = self.model(x, t).float().cpu().numpy()
        return logits[0] if single else logits

    def act(self, observation: dict[str, Any]):
        logits = self.logits(observation)
        self.last_scores = np.atleast_2d(_probabilities(logits))
        factors = None if self.revisits is None else self.revisits.factors(observation, self.last_scores.shape[1])
        chosen = self.selection.choose(np.atleast_2d(logits), self.rng, factors)
        if self.revisits is not None:
            self.revisits.record(observation, chosen)
        return int(chosen[0]) if logits.ndim == 1 else chosen


def bc_agent(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> BCAgent:
    """Registry factory (``bc=CHECKPOINT``, options ``?selection=sample&temperature=T&revisits=avoid``)."""
    from cliprt_agents.selection import selection_from_options

    return BCAgent(
        spec.require_checkpoint(),
        vocabulary=vocabulary,
        selection=selection_from_options(spec.options),
        seed=seed,
        revisits=revisits_from_options(spec.options),
    )
