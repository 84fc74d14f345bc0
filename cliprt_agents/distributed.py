"""One process or ``torchrun --nproc_per_node=N``: the process group, the device, each rank's share of a batch.

Also :func:`keep_freed_memory`, which spares CPU training the page faults of
allocating every step's large buffers anew.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from cliprt_agents.devices import resolve_device


# -- distributed set-up ------------------------------------------------------------
@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str | torch.device | None = None) -> DistributedContext:
    """Join torchrun's process group (if any) and pick this process's device.

    ``device`` None (or "auto") means CUDA when available; "cpu" forces the CPU (gloo).
    A device this machine lacks fails at once (:func:`~cliprt_agents.devices.resolve_device`).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    want = resolve_device(device)
    use_cuda = want.type == "cuda"
    if use_cuda:
        dev = want if want.index is not None and world == 1 else torch.device("cuda", local)
        torch.cuda.set_device(dev)
    else:
        dev = want if world == 1 else torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if dist.is_initialized():
        return DistributedContext(dist.get_rank(), dist.get_world_size(), local, dev)
    return DistributedContext(0, 1, 0, dev)


def barrier(ctx: DistributedContext) -> None:
    if ctx.world_size > 1:
        dist.barrier()


class EpochBatchSampler(Sampler[list[int]]):
    """Shuffled global batches, this rank's slice of each; can start mid-epoch (resume).

    Global batch ``b`` of epoch ``e`` is the same set of samples whatever the
    number of processes: rank ``r`` of ``W`` takes its ``r``-th contiguous
    share. Incomplete last batches are dropped (every rank needs the same
    batch size for the gathered loss).
    """

    def __init__(self, n: int, global_batch: int, rank: int, world: int, seed: int, shuffle: bool = True) -> None:
        if global_batch % world:
            raise ValueError(f"batch size {global_batch} is not divisible by the {world} processes")
        if n < global_batch:
            raise ValueError(f"the training set has {n} samples, fewer than one batch of {global_batch}; lower --batch-size")
        self.n, self.global_batch, self.rank, self.world = n, global_batch, rank, world
        self.local = global_batch // world
        self.seed, self.shuffle = seed, shuffle
        self.epoch, self.start = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return self.n // self.global_batch

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=g)
        else:
            order = torch.arange(self.n)
        for b in range(self.start, self.batches_per_epoch):
            lo = b * self.global_batch + self.rank * self.local
            yield order[lo : lo + self.local].tolist()


# -- CPU memory ----------------------------------------------------------------------

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """Let glibc's ``malloc`` keep freed blocks up to ``limit`` bytes for reuse; True if it took.

    A training step frees and allocates again the same buffers (activations,
    the 25 MB gradient of CLIP's token table): by default glibc gives large
    blocks back to the kernel and takes them again, and every step paid some
    17,000 page faults (30-45 ms of kernel time for CLIPRT-TinyConv at batch
    64, measured; 400 with this). The process keeps its peak heap instead.
    No effect outside glibc (returns False).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # no libc by that name, or not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    limit = min(int(limit), 2**31 - 1)
    return bool(mallopt(_M_MMAP_THRESHOLD, limit)) and bool(mallopt(_M_TRIM_THRESHOLD, limit))


# -- optimisation helpers ----------------------------------------------------------


def wrap_ddp(model: torch.nn.Module, ctx: DistributedContext) -> torch.nn.Module:
    """The model itself in one process; its DistributedDataParallel wrapper under torchrun.

    DDP's own gradient averaging: sending only the non-zero rows of the token
    table's gradient (a sparse all-reduce hook), or gradients as bucket views,
    measured no faster on a 2-core CPU (the 28 MB all-reduce overlaps with
    the backward pass), so neither is used.
    """
    if ctx.world_size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
