"""Reading decoded episodes back (:class:`DatasetReader`), or the whole dataset through ``minari``."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_data.storage.check import DatasetInfo, check_dataset
from cliprt_data.storage.episode import Episode
from cliprt_data.storage.format import EPISODE_GROUP, READ_ERRORS, DatasetCorruptedError, repair_hint, require


@contextlib.contextmanager
def episode_group(info: DatasetInfo, index: int) -> Iterator[Any]:
    """The HDF5 group of episode ``index``, open for reading, in either layout."""
    h5py = require("h5py")
    if info.single_file:
        with h5py.File(info.main_file, "r") as f:
            yield f[f"episode_{index}"]
    else:
        with h5py.File(info.episode_file(index), "r") as f:
            yield f[EPISODE_GROUP]


class DatasetReader:
    """Decoded episodes of one dataset.

    >>> with DatasetReader("runs/pick-v0") as reader:
    ...     ep = reader.episode(0)

    Each episode is read from its own file; datasets of the older single-file
    layout are read from ``main_data.hdf5``, kept open between episodes.
    """

    def __init__(self, path: str | Path, *, deep_check: bool = True) -> None:
        self.info = check_dataset(path, deep=deep_check)
        self._file: Any = None

    def __enter__(self) -> DatasetReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.info.total_episodes

    def open(self) -> None:
        if self._file is None and self.info.single_file and self.info.total_episodes:
            h5py = require("h5py")
            try:
                self._file = h5py.File(self.info.main_file, "r")
            except OSError as exc:
                raise DatasetCorruptedError(
                    f"{self.info.main_file} cannot be opened ({exc}); {repair_hint(self.info.path)}"
                ) from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def episode(self, index: int, *, images: bool = True, states: bool = True) -> Episode:
        """Episode ``index`` with images decoded (skip them with ``images=False``)."""
        if not 0 <= index < self.info.total_episodes:
            raise IndexError(f"episode {index} is out of range 0..{self.info.total_episodes - 1}")
        try:
            if self.info.single_file:
                self.open()
                return self._read(self._file[f"episode_{index}"], index, images, states)
            with episode_group(self.info, index) as group:
                return self._read(group, index, images, states)
        except READ_ERRORS as exc:
            raise DatasetCorruptedError(
                f"episode {index} of {self.info.path} cannot be read ({exc}); {repair_hint(self.info.path)}"
            ) from None

    def _read(self, group: Any, index: int, images: bool, states: bool) -> Episode:
        obs = {}
        for key, item in group["observations"].items():
            if key == "image" and not images:
                continue
            obs[key] = self._decode(item, image=key.endswith("image"))
        infos = {}
        if "infos" in group:
            for key, item in group["infos"].items():
                if key == "sim_state" and not states:
                    continue
                infos[key] = self._decode(item)
        return Episode(
            index=index,
            observations=obs,
            actions=group["actions"][()],
            rewards=group["rewards"][()],
            terminations=group["terminations"][()],
            truncations=group["truncations"][()],
            infos=infos,
            meta=dict(self.info.episodes[index]),
        )

    def __iter__(self) -> Iterator[Episode]:
        for i in range(self.info.total_episodes):
            yield self.episode(i)

    def _decode(self, item: Any, image: bool = False) -> Any:
        import h5py

        if h5py.check_string_dtype(item.dtype) is not None:
            return [str(s) for s in item.asstr()[()]]
        vlen = h5py.check_vlen_dtype(item.dtype)
        if vlen is not None and image:
            return decode_jpeg_stack(item[()])
        return item[()]


def decode_jpeg_stack(blobs: Sequence[np.ndarray]) -> np.ndarray:
    """Decode Minari's JPEG-encoded frames into one ``(N, H, W, 3)`` uint8 array."""
    from PIL import Image

    first = np.asarray(Image.open(io.BytesIO(blobs[0].tobytes())).convert("RGB"), dtype=np.uint8)
    out = np.empty((len(blobs), *first.shape), dtype=np.uint8)
    out[0] = first
    for i in range(1, len(blobs)):
        out[i] = np.asarray(Image.open(io.BytesIO(blobs[i].tobytes())).convert("RGB"), dtype=np.uint8)
    return out


def open_minari(path: str | Path) -> Any:
    """The dataset as a ``minari.MinariDataset`` (checked first)."""
    info = check_dataset(path)
    minari = require("minari")
    return minari.MinariDataset(info.data_path)
