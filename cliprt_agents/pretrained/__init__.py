"""Pretrained CLIP-RT checkpoints shipped inside the package, loaded by name.

``load_policy("cliprt-ur5sim-v6")``, ``cliprt bench run --agent clip-rt=cliprt-ur5sim-v6``
and ``cliprt train --init-from cliprt-ur5sim-v6`` find the folder of that name
here. Each folder holds the checkpoint (``config.json``, ``model.safetensors``
stored in fp16) and its model card: ``card.json`` (the corpus recipe and its
hash, steps, wall time, hardware, git commit, held-out accuracy and success,
and the weights' SHA-256) and ``MODEL_CARD.md`` for people.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

#: The folder of every shipped checkpoint.
PRETRAINED_DIR = Path(__file__).resolve().parent
CARD_FILE = "card.json"
WEIGHTS_FILE = "model.safetensors"


def shipped_names() -> tuple[str, ...]:
    """Names of the checkpoints inside the package."""
    return tuple(sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / CARD_FILE).is_file()))


def shipped_model_dir(name: str) -> Path | None:
    """The folder of the shipped checkpoint ``name``, or None when no such checkpoint ships."""
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
        return None
    folder = PRETRAINED_DIR / name
    return folder if (folder / CARD_FILE).is_file() else None


def read_card(name: str) -> dict[str, Any]:
    folder = shipped_model_dir(name)
    if folder is None:
        raise ValueError(f"no shipped checkpoint named {name!r}; shipped: {', '.join(shipped_names()) or 'none'}")
    return json.loads((folder / CARD_FILE).read_text())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str) -> None:
    """Raise if the shipped weights do not match the hash on their card."""
    card = read_card(name)
    actual = file_sha256(PRETRAINED_DIR / name / WEIGHTS_FILE)
    if actual != card["weights_sha256"]:
        expected = card["weights_sha256"]
        raise ValueError(f"shipped checkpoint {name!r} does not match its card (sha256 {actual[:12]}... vs {expected[:12]}...)")
