"""Speed of the data pipeline: recording, collection, STA, loading, translation.

python -m benchmarks.data_speed --episodes 10 --image-size 224 --out runs/data_speed

Prints one table (and writes ``OUT/data_speed.json``):

- env steps/s without recording (the ceiling), transitions recorded per second
  and bytes per transition (JPEG and raw images);
- scripted collection through the translator (steps/s);
- STA: augmented (labelled) transitions per second and env steps per second;
- training dataset: build time, samples/s from ``__getitem__``, and a
  DataLoader's samples/s;
- offline translations per second.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path


def _record(env_id: str, out: Path, episodes: int, image_size: int, jpeg: bool) -> dict:
    import gymnasium as gym

    import cliprt_envs  # noqa: F401
    from benchmarks.experts import expert_episode
    from cliprt_data.recorder import DatasetRecorder, RecorderConfig
    from cliprt_data.storage import StorageConfig, check_dataset

    env = gym.make(env_id, image_size=image_size)
    rec = DatasetRecorder(env, out, config=RecorderConfig(storage=StorageConfig(jpeg=jpeg)))
    start = time.perf_counter()
    try:
        steps = sum(expert_episode(rec, ep)[0] for ep in range(episodes))
    finally:
        rec.close()
    seconds = time.perf_counter() - start
    info = check_dataset(out)
    episode_bytes = info.data_bytes  # the episode files and main_data.hdf5
    fixed = sum(f.stat().st_size for f in out.rglob("*.json"))
    return {
        "episode_bytes_per_transition": episode_bytes / info.total_steps,
        "metadata_bytes": fixed,
        "commit_seconds_per_episode": rec.writer.seconds_writing / episodes,
        "steps": steps,
        "seconds": seconds,
        "transitions_per_s": steps / seconds,
        "bytes_per_transition": (episode_bytes + fixed) / info.total_steps,
    }


def _plain(env_id: str, episodes: int, image_size: int) -> dict:
    import gymnasium as gym

    import cliprt_envs  # noqa: F401
    from benchmarks.experts import expert_episode

    env = gym.make(env_id, image_size=image_size)
    start = time.perf_counter()
    try:
        steps = sum(expert_episode(env, ep)[0] for ep in range(episodes))
    finally:
        env.close()
    seconds = time.perf_counter() - start
    return {"steps": steps, "seconds": seconds, "steps_per_s": steps / seconds}


def _loading(paths: list[Path]) -> dict:
    import torch

    from cliprt_data.datasets import load_training_dataset

    start = time.perf_counter()
    ds = load_training_dataset(paths, chunk_size=8)
    build = time.perf_counter() - start
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < 2.0:
        ds[n % len(ds)]
        n += 1
    per_item = n / (time.perf_counter() - start)
    from cliprt_agents.config import TINY_MODEL, ModelConfig
    from cliprt_agents.data import collator_for
    from cliprt_agents.model import build_model
    from cliprt_envs.motions import default_vocabulary

    # The trainer's one collate (preprocessing and tokenisation included), for a CLIP-RT+ model of chunk 8.
    vocabulary = default_vocabulary()
    collate = collator_for(build_model(ModelConfig(backbone=TINY_MODEL, variant="plus"), vocabulary), vocabulary)
    loaders = {
        "default_collate_0_workers": torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True),
        "trainer_collate_0_workers": torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True, collate_fn=collate),
        "default_collate_2_workers": torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True, num_workers=2),
    }
    rates = {}
    for name, loader in loaders.items():
        seen = 0
        start = time.perf_counter()
        for batch in loader:
            seen += len(batch["motion_ids" if "motion_ids" in batch else "motion_id"])
            if time.perf_counter() - start > 5.0:
                break
        rates[name] = seen / (time.perf_counter() - start)
    return {"items": len(ds), "build_seconds": build, "samples_per_s": per_item, "dataloader_samples_per_s": rates}


def _translate() -> dict:
    import numpy as np

    from cliprt_data.teleop import natural_phrase
    from cliprt_data.translate import RuleTranslator
    from cliprt_data.translate.lexicon import canonical as _canonical
    from cliprt_envs.motions import default_vocabulary

    vocab = default_vocabulary()
    tr = RuleTranslator(vocab)
    rng = np.random.default_rng(0)
    phrases = [natural_phrase(vocab, int(rng.integers(len(vocab))), rng) for _ in range(2000)]
    start = time.perf_counter()
    for p in phrases:
        tr.translate(p)
    table = len(phrases) / (time.perf_counter() - start)
    start = time.perf_counter()
    for p in phrases:
        tr._parse(p, _canonical(p))
    parse = len(phrases) / (time.perf_counter() - start)
    return {"translations_per_s": table, "parser_only_per_s": parse}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CLIPRT-UR5Sim-Pick-v0", help="sim environment id")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per measurement (2 is a quick run)")
    parser.add_argument("--image-size", type=int, default=224, help="camera image size in pixels (64 is a quick run)")
    parser.add_argument("--per-demo", type=int, default=3, help="STA trajectories per demonstration")
    parser.add_argument(
        "--out", type=Path, default=Path("runs/data_speed"), help="folder for the datasets and data_speed.json (replaced)"
    )
    args = parser.parse_args(argv)

    from cliprt_data.augment import STAConfig, augment_dataset
    from cliprt_data.teleop import CollectConfig, collect_demonstrations

    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    res: dict = {"env": args.env, "episodes": args.episodes, "image_size": args.image_size, "cpu_count": os.cpu_count()}
    res["env_only"] = _plain(args.env, args.episodes, args.image_size)
    res["record_jpeg"] = _record(args.env, args.out / "rec-jpeg-v0", args.episodes, args.image_size, jpeg=True)
    res["record_raw"] = _record(args.env, args.out / "rec-raw-v0", args.episodes, args.image_size, jpeg=False)
    c = collect_demonstrations(
        CollectConfig(args.env, episodes=args.episodes, image_size=args.image_size), args.out / "demos-v0", progress=False
    )
    res["collect"] = {k: c[k] for k in ("episodes_saved", "steps", "seconds", "steps_per_second")}
    a = augment_dataset([args.out / "demos-v0"], args.out / "sta-v0", STAConfig(per_demo=args.per_demo), progress=False)
    res["augment"] = {
        "transitions_added": a["transitions_added"],
        "seconds": a["seconds"],
        "augmented_transitions_per_s": a["augmented_transitions_per_second"],
        "env_steps_per_s": a["steps_executed_per_second"],
        "per_task": a["per_task"],
    }
    res["loading"] = _loading([args.out / "sta-v0"])
    res["translate"] = _translate()
    (args.out / "data_speed.json").write_text(json.dumps(res, indent=1))

    r = res
    rows = [
        ("env steps/s, no recording", f"{r['env_only']['steps_per_s']:.1f}"),
        ("recorded transitions/s (JPEG)", f"{r['record_jpeg']['transitions_per_s']:.1f}"),
        ("recorded transitions/s (raw)", f"{r['record_raw']['transitions_per_s']:.1f}"),
        ("bytes/transition (JPEG), episode data", f"{r['record_jpeg']['episode_bytes_per_transition'] / 1e3:.1f} kB"),
        ("bytes/transition (raw), episode data", f"{r['record_raw']['episode_bytes_per_transition'] / 1e3:.1f} kB"),
        ("bytes/transition (JPEG), all files", f"{r['record_jpeg']['bytes_per_transition'] / 1e3:.1f} kB"),
        ("fixed metadata per dataset (JSON)", f"{r['record_jpeg']['metadata_bytes'] / 1e6:.2f} MB"),
        (
            "commit time per episode (JPEG / raw)",
            f"{r['record_jpeg']['commit_seconds_per_episode'] * 1e3:.0f} / "
            f"{r['record_raw']['commit_seconds_per_episode'] * 1e3:.0f} ms",
        ),
        ("scripted collection steps/s (via translator)", f"{r['collect']['steps_per_second']:.1f}"),
        ("STA augmented transitions/s", f"{r['augment']['augmented_transitions_per_s']:.1f}"),
        ("STA env steps/s (incl. deviations, roll-backs)", f"{r['augment']['env_steps_per_s']:.1f}"),
        ("STA transitions added", f"{r['augment']['transitions_added']} from {r['collect']['steps']} demo steps"),
        ("dataset build (decode all)", f"{r['loading']['build_seconds']:.2f} s for {r['loading']['items']} items"),
        ("dataset samples/s (__getitem__)", f"{r['loading']['samples_per_s']:.0f}"),
        *(
            (f"DataLoader samples/s (batch 32, {name.replace('_', ' ')})", f"{rate:.0f}")
            for name, rate in r["loading"]["dataloader_samples_per_s"].items()
        ),
        (
            "offline translations/s",
            f"{r['translate']['translations_per_s']:.0f} (parser only {r['translate']['parser_only_per_s']:.0f})",
        ),
    ]
    print(f"\n{args.env}, {args.image_size} px, {args.episodes} episodes, {os.cpu_count()} CPUs")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(f"\nfull results: {args.out / 'data_speed.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
