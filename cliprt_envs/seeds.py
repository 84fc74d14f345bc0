"""Which reset seeds each use of the sims draws from, so their init states never meet.

- Demonstrations for fine-tuning (``cliprt collect``, the main job): seeds
  ``0 .. SEED_STRIDE - 1``.
- Benchmark episodes: benchmark seed ``s`` (1 or more) uses
  ``s * SEED_STRIDE + episode``; benchmark seed 0 is the demonstrations'
  range and only for quick checks.
- The pretraining corpus: ``CORPUS_SEED_BASE + k``, above every benchmark
  seed the runner accepts (``MAX_BENCH_SEED``).
"""

from __future__ import annotations

#: Init states per benchmark seed.
SEED_STRIDE = 1_000_000

#: First reset seed of the pretraining corpus.
CORPUS_SEED_BASE = 2**40

#: Largest benchmark seed: every benchmark init state stays below the corpus range.
MAX_BENCH_SEED = CORPUS_SEED_BASE // SEED_STRIDE - 1


def bench_reset_seed(seed: int, episode: int) -> int:
    """The reset seed of ``episode`` of benchmark seed ``seed``."""
    if not 0 <= seed <= MAX_BENCH_SEED:
        raise ValueError(f"benchmark seeds are 0..{MAX_BENCH_SEED}; got {seed}")
    if not 0 <= episode < SEED_STRIDE:
        raise ValueError(f"at most {SEED_STRIDE} episodes per benchmark seed; got episode {episode}")
    return seed * SEED_STRIDE + episode


def corpus_reset_seed(index: int) -> int:
    """The reset seed of the ``index``-th episode of a pretraining corpus."""
    if index < 0:
        raise ValueError(f"corpus episode index must be >= 0; got {index}")
    return CORPUS_SEED_BASE + index
