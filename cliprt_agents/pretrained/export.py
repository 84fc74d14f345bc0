"""Turn a ``cliprt pretrain`` run into a checkpoint shipped with the package (maintainers' tool).

    python -m cliprt_agents.pretrained.export RUN_DIR --name cliprt-ur5sim-v6 --card-json facts.json

Writes ``cliprt_agents/pretrained/<name>/``: ``config.json`` (the run's),
``model.safetensors`` (the weights in fp16, to stay small), ``card.json``
(the facts given, the weights' SHA-256 and size) and ``MODEL_CARD.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from cliprt_agents.pretrained import CARD_FILE, PRETRAINED_DIR, WEIGHTS_FILE, file_sha256

#: Largest shipped weights file.
MAX_BYTES = 25 * 1024 * 1024


def export_checkpoint(run_dir: str | Path, name: str, facts: dict[str, Any], dest: Path = PRETRAINED_DIR) -> Path:
    """Copy ``run_dir``'s final model into ``dest/name`` in fp16 with its card; returns the folder."""
    import torch
    from safetensors.torch import load_file, save_file

    from cliprt_agents.checkpoint import CONFIG_FILE, resolve_model_dir

    source = resolve_model_dir(run_dir)
    tensors = load_file(str(source / WEIGHTS_FILE))
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
    folder = Path(dest) / name
    folder.mkdir(parents=True, exist_ok=True)
    save_file(half, str(folder / WEIGHTS_FILE), metadata={"format": "pt", "dtype": "float16"})
    size = (folder / WEIGHTS_FILE).stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{name}: {size / 2**20:.1f} MiB of weights; shipped checkpoints stay under {MAX_BYTES / 2**20:.0f} MiB")
    shutil.copyfile(source / CONFIG_FILE, folder / CONFIG_FILE)
    card = {
        "name": name,
        **facts,
        "weights_sha256": file_sha256(folder / WEIGHTS_FILE),
        "weights_bytes": size,
        "parameters": int(sum(v.numel() for v in tensors.values())),
        "dtype": str(torch.float16).replace("torch.", ""),
    }
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    (folder / "MODEL_CARD.md").write_text(model_card_markdown(card))
    return folder


def model_card_markdown(card: dict[str, Any]) -> str:
    """The card for people: every fact of ``card.json`` as a list, the reproduction command first."""
    lines = [f"# {card['name']}", "", card.get("summary", ""), ""]
    if card.get("reproduce"):
        lines += ["## Reproduce", "", "```bash", *card["reproduce"], "```", ""]
    lines += ["## Facts", ""]
    for key, value in card.items():
        if key in ("name", "summary", "reproduce"):
            continue
        text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        lines.append(f"- **{key}**: {text}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Ship a pretrained run inside the package (fp16 weights and a model card).")
    p.add_argument("run", type=Path, help="the cliprt pretrain run directory")
    p.add_argument("--name", required=True, help="the name users load it by")
    p.add_argument("--card-json", type=Path, required=True, help="a JSON file of facts for the card")
    args = p.parse_args(argv)
    folder = export_checkpoint(args.run, args.name, json.loads(args.card_json.read_text()))
    print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
