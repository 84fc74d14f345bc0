"""``cliprt dataset repair``: bring a dataset back to its complete, committed episodes."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cliprt_data._util import deferred_signals
from cliprt_data.storage.check import check_dataset, check_group
from cliprt_data.storage.format import (
    DAMAGED_SUFFIX,
    DATA_SUBDIR,
    EPISODE_GROUP,
    EPISODES_SUBDIR,
    FORMAT_VERSION,
    MANIFEST_NAME,
    MINARI_MAIN_FILE,
    MINARI_METADATA,
    READ_ERRORS,
    SINGLE_FILE_FORMAT,
    DatasetCorruptedError,
    DatasetNotFoundError,
    entry_file_name,
    episode_file_name,
    manifest_copy,
    megabytes,
    newer_format_error,
    read_json,
    read_spaces,
    require,
    resolve_dataset_path,
    write_main_file,
)
from cliprt_envs.files import atomic_write_json, fsync_dir, fsync_file


def repair_dataset(path: str | Path) -> str:
    """Bring a dataset back to its complete episodes; returns what was done.

    Keeps every committed episode whose file still reads completely, in
    order (renumbered when some before it are lost); drops half-written
    episodes; rebuilds ``main_data.hdf5`` and ``metadata.json`` from the
    manifest; converts a dataset of the older single-file layout to one file
    per episode. A damaged episode file is set aside with the suffix
    ``.damaged``; the only files deleted are those of episodes that were
    never committed.
    """
    require("h5py")
    root = resolve_dataset_path(path)
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.exists():
        raise DatasetNotFoundError(f"{root} has no {MANIFEST_NAME}; only datasets written by cliprt can be repaired")
    manifest = read_json(manifest_path, "manifest", "it cannot be repaired automatically")
    version = int(manifest.get("format_version", SINGLE_FILE_FORMAT))
    if version > FORMAT_VERSION:
        raise newer_format_error(root, version)
    data = root / DATA_SUBDIR
    main = data / MINARI_MAIN_FILE
    committed = [dict(e) for e in manifest.get("episodes", [])]
    spaces = read_spaces(root)  # before anything changes: without them metadata.json cannot be rebuilt
    actions: list[str] = []
    with deferred_signals():
        (data / EPISODES_SUBDIR).mkdir(parents=True, exist_ok=True)
        if version < FORMAT_VERSION:
            kept = _convert_single_file(main, committed, data, actions)
        else:
            kept = _readable_episodes(data, committed, actions)
        _renumber(data, kept, actions)
        _remove_uncommitted(root, kept, actions)
        _rebuild_main(main, [str(e["file"]) for e in kept], actions)
        meta = _rebuild_metadata(data, manifest, spaces, kept, actions)
        manifest.update(
            format_version=FORMAT_VERSION,
            episodes=kept,
            total_episodes=len(kept),
            total_steps=meta["total_steps"],
            hdf5_size=main.stat().st_size,
            minari_metadata=manifest_copy(meta),
        )
        atomic_write_json(manifest_path, manifest)
    check_dataset(root)
    return "; ".join(actions) if actions else "nothing to repair"


def _rebuild_metadata(
    data: Path, manifest: Mapping[str, Any], spaces: Mapping[str, str], kept: list[dict[str, Any]], actions: list[str]
) -> dict[str, Any]:
    """Write ``metadata.json`` anew from the manifest, the spaces and the kept episodes; returns it."""
    main = data / MINARI_MAIN_FILE
    meta = dict(manifest.get("minari_metadata") or {})
    meta.update({k: json.dumps(json.loads(v), separators=(",", ":")) for k, v in spaces.items()})
    meta["cliprt"] = dict(manifest.get("metadata") or meta.get("cliprt") or {})
    meta["total_episodes"] = len(kept)
    meta["total_steps"] = int(sum(int(e["steps"]) for e in kept))
    meta["dataset_size"] = megabytes(main.stat().st_size + sum(int(e["bytes"]) for e in kept))
    meta_path = data / MINARI_METADATA
    try:
        current = read_json(meta_path, "", "")
        if current.get("total_episodes") != len(kept):
            actions.append("fixed the episode count in metadata.json")
    except (DatasetCorruptedError, FileNotFoundError):
        actions.append("restored metadata.json from the manifest")
    atomic_write_json(meta_path, meta, indent=None)
    return meta


def _read_all(group: Any) -> None:
    """Read every array of an episode group (a damaged chunk raises here, not later in training)."""
    import h5py

    group.visititems(lambda _name, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)


def _episode_problem(file: Path, entry: Mapping[str, Any], index: int) -> str | None:
    """Why committed episode ``index`` in ``file`` cannot be kept, or None when it reads completely."""
    h5py = require("h5py")
    if not file.exists():
        return f"{file.name} is missing"
    size = file.stat().st_size
    committed = entry.get("bytes")
    try:
        with h5py.File(file, "r") as f:
            group = f[EPISODE_GROUP]
            check_group(group, int(entry["steps"]), f"episode {index}")
            _read_all(group)
    except (*READ_ERRORS, DatasetCorruptedError) as exc:
        if committed is not None and size < int(committed):
            return f"{file.name} was cut short: {size} of {committed} bytes"
        return f"{file.name} cannot be read: {exc}"
    return None


def _readable_episodes(data: Path, committed: list[dict[str, Any]], actions: list[str]) -> list[dict[str, Any]]:
    kept = []
    for i, entry in enumerate(committed):
        rel = entry_file_name(entry, i)
        file = data / rel
        problem = _episode_problem(file, entry, i)
        if problem is None:
            kept.append({**entry, "file": rel, "bytes": file.stat().st_size})
            continue
        actions.append(f"episode {i} is lost ({problem})")
        if file.exists():
            os.replace(file, file.with_name(file.name + DAMAGED_SUFFIX))
            actions.append(f"kept the damaged file as {file.name}{DAMAGED_SUFFIX}")
    if len(kept) < len(committed):
        actions.append(f"kept {len(kept)} of {len(committed)} episodes")
    return kept


def _renumber(data: Path, kept: list[dict[str, Any]], actions: list[str]) -> None:
    """Give the kept episodes the indices 0..n-1 (file names and ids), in their order.

    Slot ``j`` is free when episode ``i >= j`` moves there: the episode that
    had it was either lost (its file set aside) or moved to a lower slot
    before.
    """
    h5py = require("h5py")
    moved = []
    for j, entry in enumerate(kept):
        want = episode_file_name(j)
        if entry["file"] == want and int(entry.get("index", j)) == j:
            continue
        if entry["file"] != want:
            target = data / want
            if target.exists():  # never expected; set aside rather than overwrite
                os.replace(target, target.with_name(target.name + DAMAGED_SUFFIX))
            os.replace(data / entry["file"], target)
        with h5py.File(data / want, "a") as f:
            f[EPISODE_GROUP].attrs["id"] = j
        moved.append(f"{entry.get('index')}->{j}")
        entry.update(index=j, file=want, bytes=(data / want).stat().st_size)
    if moved:
        actions.append(f"renumbered episodes {', '.join(moved)}")


def _remove_uncommitted(root: Path, kept: list[dict[str, Any]], actions: list[str]) -> None:
    """Delete files of episodes that were never committed, and temporary files of interrupted writes."""
    data = root / DATA_SUBDIR
    keep = {str(e["file"]) for e in kept}
    for file in sorted((data / EPISODES_SUBDIR).glob("episode_*.hdf5")):
        if f"{EPISODES_SUBDIR}/{file.name}" not in keep:
            file.unlink()
            actions.append(f"removed {file.name}, an episode that was not completely written")
    for folder in (root, data):
        for tmp in folder.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def _rebuild_main(main: Path, files: list[str], actions: list[str]) -> None:
    """Make ``main_data.hdf5`` link exactly ``files``; rewrite it when it does not."""
    h5py = require("h5py")
    expected = {f"episode_{i}": name for i, name in enumerate(files)}
    if not main.exists():
        write_main_file(main, files)
        return
    try:
        with h5py.File(main, "r") as f:
            current: dict[str, str | None] = {}
            for name in f:
                link = f.get(name, getlink=True)
                ok = isinstance(link, h5py.ExternalLink) and link.path == f"/{EPISODE_GROUP}"
                current[name] = link.filename if ok else None
    except READ_ERRORS as exc:
        os.replace(main, main.with_name(main.name + DAMAGED_SUFFIX))
        actions.append(f"{main.name} could not be read ({exc}); rebuilt it from the manifest")
        write_main_file(main, files)
        return
    if current == expected:
        return
    extra = sorted(set(current) - set(expected), key=lambda n: (len(n), n))
    write_main_file(main, files)
    actions.append(f"dropped unfinished {', '.join(extra)}" if extra else f"relinked {main.name} to the kept episodes")


def _convert_single_file(main: Path, committed: list[dict[str, Any]], data: Path, actions: list[str]) -> list[dict[str, Any]]:
    """Copy every complete episode of an older single-file dataset into its own file."""
    h5py = require("h5py")
    if not committed:
        if main.exists() and main.stat().st_size > 0:
            actions.append("cleared a half-written first episode")
        main.unlink(missing_ok=True)
        actions.append("converted the dataset to one file per episode")
        return []
    if not main.exists():
        raise DatasetCorruptedError(f"{main} is missing; the episodes cannot be recovered")
    src, cut, padded = _open_single_file(main)
    kept: list[dict[str, Any]] = []
    try:
        with src:
            for i, entry in enumerate(committed):
                name = f"episode_{i}"
                try:
                    group = src[name]
                    check_group(group, int(entry["steps"]), name)
                    _read_all(group)
                    if cut is not None:
                        _check_stored_below(group, cut)
                except (*READ_ERRORS, DatasetCorruptedError) as exc:
                    actions.append(f"episode {i} is lost ({exc})")
                    continue
                j = len(kept)
                rel = episode_file_name(j)
                with h5py.File(data / rel, "w", track_order=True) as dst:
                    dst.copy(group, dst, name=EPISODE_GROUP)
                    dst[EPISODE_GROUP].attrs["id"] = j
                fsync_file(data / rel)
                kept.append({**entry, "index": j, "file": rel, "bytes": (data / rel).stat().st_size})
    finally:
        if padded is not None:
            padded.unlink(missing_ok=True)
    if len(kept) == len(committed) and cut is None:
        main.unlink()
    else:
        os.replace(main, main.with_name(main.name + DAMAGED_SUFFIX))
        actions.append(
            f"the single file was damaged; kept {len(kept)} of {len(committed)} episodes "
            f"(the old file stays as {main.name}{DAMAGED_SUFFIX})"
        )
    fsync_dir(data / EPISODES_SUBDIR)
    actions.append("converted the dataset from the single-file layout to one file per episode")
    return kept


def _open_single_file(main: Path) -> tuple[Any, int | None, Path | None]:
    """Open an older single-file dataset; a file cut short is opened from a copy padded to its recorded length.

    Returns the open file, the length it was cut to (None when whole) and the padded copy to delete.
    """
    h5py = require("h5py")
    try:
        return h5py.File(main, "r"), None, None
    except OSError as exc:
        first = exc
    size = main.stat().st_size
    eof = _stored_eof(main)
    if eof is None or eof <= size:
        raise DatasetCorruptedError(
            f"{main} is too damaged to open ({first}); no episode can be recovered. Restore a backup or record again."
        )
    padded = main.with_name(f".{main.name}.padded")
    shutil.copyfile(main, padded)
    with open(padded, "r+b") as f:
        f.truncate(eof)  # zeros where the lost bytes were; only data stored below the cut is trusted
    try:
        return h5py.File(padded, "r"), size, padded
    except OSError as exc:
        padded.unlink(missing_ok=True)
        raise DatasetCorruptedError(
            f"{main} was cut short at {size} of {eof} bytes and its index is lost ({exc}); no episode can be "
            "recovered. Restore a backup or record again."
        ) from None


def _stored_eof(path: Path) -> int | None:
    """The end-of-file address an HDF5 superblock (version 0 to 3, at offset 0) records, or None."""
    with open(path, "rb") as f:
        head = f.read(64)
    if len(head) < 48 or not head.startswith(b"\x89HDF\r\n\x1a\n"):
        return None
    version = head[8]
    if version in (0, 1):
        size = head[13]
        at = (24 if version == 0 else 28) + 2 * size  # base address, free-space address, then end of file
    elif version in (2, 3):
        size = head[9]
        at = 12 + 2 * size  # base address, superblock-extension address, then end of file
    else:
        return None
    if size not in (4, 8) or len(head) < at + size:
        return None
    return int.from_bytes(head[at : at + size], "little")


def _check_stored_below(group: Any, limit: int) -> None:
    """Raise unless every chunk of every array of ``group`` lies below byte ``limit`` (the cut)."""
    import h5py

    def check(name: str, obj: Any) -> None:
        if not isinstance(obj, h5py.Dataset):
            return
        dsid = obj.id
        if dsid.get_create_plist().get_layout() == h5py.h5d.CHUNKED:
            for k in range(dsid.get_num_chunks()):
                chunk = dsid.get_chunk_info(k)
                if chunk.byte_offset + chunk.size > limit:
                    raise DatasetCorruptedError(f"{name} was stored beyond the cut")
        else:
            offset = dsid.get_offset()
            if offset is not None and offset + dsid.get_storage_size() > limit:
                raise DatasetCorruptedError(f"{name} was stored beyond the cut")

    group.visititems(check)
