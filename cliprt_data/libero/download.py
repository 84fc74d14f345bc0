"""``cliprt libero download``: LIBERO's demonstration files from the Hugging Face hub (online users).

Sources (dataset repos, one folder per suite, one ``*_demo.hdf5`` per task):

* ``libero``: LIBERO's own release (``yifengzhu-hf/LIBERO-datasets``), 128 px, what
  :mod:`cliprt_data.libero.convert` reads as is;
* ``clip-rt``: the CLIP-RT authors' modified copy (``clip-rt/modified_libero_hdf5``):
  256 px, no-op steps removed (OpenVLA's preprocessing), what their LIBERO
  checkpoints were fine-tuned on.

Offline (``HF_HUB_OFFLINE=1`` or the hub unreachable) it fails at once, saying
what to download by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

SOURCES = {"libero": "yifengzhu-hf/LIBERO-datasets", "clip-rt": "clip-rt/modified_libero_hdf5"}
SUITE_FOLDERS = {
    "spatial": "libero_spatial",
    "object": "libero_object",
    "goal": "libero_goal",
    "10": "libero_10",
    "90": "libero_90",
}


class DownloadUnavailableError(ConnectionError):
    """The hub cannot be reached now; the message says how to fetch the files by hand."""


def _how_to(repo: str, folder: str, why: str) -> str:
    return (
        f"cannot download LIBERO demonstrations now ({why}). While online run "
        f"`hf download {repo} --repo-type dataset --include '{folder}*/*' --local-dir DIR`, "
        f"then convert with `cliprt libero convert DIR/{folder}*/*.hdf5 --out DATASET`"
    )


def download_libero(suite: str, out: str | Path, *, source: str = "libero") -> list[Path]:
    """Download one suite's demonstration files into ``out``; returns the HDF5 paths."""
    if suite not in SUITE_FOLDERS:
        raise ValueError(f"unknown LIBERO suite {suite!r}; choose from {', '.join(SUITE_FOLDERS)}")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
    repo, folder = SOURCES[source], SUITE_FOLDERS[suite]
    from cliprt_agents.backbone import hub_offline, network_reachable

    if hub_offline():
        raise DownloadUnavailableError(_how_to(repo, folder, "HF_HUB_OFFLINE is set"))
    if not network_reachable(os.environ.get("HF_ENDPOINT", "https://huggingface.co")):
        raise DownloadUnavailableError(_how_to(repo, folder, "the hub cannot be reached"))
    from huggingface_hub import snapshot_download

    try:
        root = snapshot_download(repo, repo_type="dataset", allow_patterns=[f"{folder}*/*.hdf5"], local_dir=str(out))
    except Exception as exc:  # network errors, a moved repo
        raise DownloadUnavailableError(_how_to(repo, folder, f"{type(exc).__name__}: {exc}")) from None
    files = sorted(Path(root).glob(f"{folder}*/*.hdf5"))
    if not files:
        raise FileNotFoundError(f"{repo} has no {folder}*/*.hdf5 files; check the repo on the hub")
    return files
