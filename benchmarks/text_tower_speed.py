"""One training step of the pretraining model with the text tower on full 77-token rows vs rows cut after the longest text.

python -m benchmarks.text_tower_speed [--data CORPUS_OR_DATASET] [--batch-size 64] [--repeat 3]

Same batch, same maths (the cut is exact for a causal text tower pooled at
the end-of-text token): forward, backward and an AdamW step, one thread,
best of ``--repeat`` rounds of 4 steps, for the paper's in-batch loss and
the whole-vocabulary loss. Prints ms/step, samples/s and the speed-up.
Without ``--data`` it uses the toy dataset.
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> int:
    import torch

    from cliprt_agents.config import PRETRAIN_MODEL
    from cliprt_agents.data import collator_for
    from cliprt_agents.model import CLIPRT, build_model
    from cliprt_agents.objective import compute_loss

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="a corpus or dataset folder (default: the toy dataset)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    if args.data:
        from cliprt_data.datasets import load_training_dataset

        data = load_training_dataset(args.data)
    else:
        from cliprt_agents.synthetic import SyntheticMotionDataset

        data = SyntheticMotionDataset(args.batch_size, image_size=64)
    vocabulary = getattr(data, "vocabulary", None)
    if vocabulary is None:
        from cliprt_envs.motions import default_vocabulary

        vocabulary = default_vocabulary()
    model = build_model(PRETRAIN_MODEL, vocabulary)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    trimmed = CLIPRT.encode_text
    paths = {"full rows": lambda self, tokens: self.clip.encode_text(tokens), "cut rows": trimmed}
    try:
        for loss in ("in_batch", "vocabulary"):
            batch = collator_for(model, vocabulary, with_vocabulary=loss == "vocabulary")(
                [data[i] for i in range(args.batch_size)]
            )
            seconds = {}
            for name, encode in paths.items():
                CLIPRT.encode_text = encode
                seconds[name] = _best_step(model, optimizer, batch, compute_loss, args.repeat)
                rate = args.batch_size / seconds[name]
                print(f"{loss:10s} {name:9s} {1000 * seconds[name]:6.0f} ms/step {rate:6.0f} samples/s")
            print(f"{loss:10s} speed-up  {seconds['full rows'] / seconds['cut rows']:.2f}x")
    finally:
        CLIPRT.encode_text = trimmed
    return 0


def _best_step(model, optimizer, batch, compute_loss, repeat: int) -> float:
    def step() -> None:
        optimizer.zero_grad()
        loss, _ = compute_loss(model, batch, "language", 0.0)
        loss.backward()
        optimizer.step()

    step()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(4):
            step()
        best = min(best, (time.perf_counter() - start) / 4)
    return best


if __name__ == "__main__":
    raise SystemExit(main())
