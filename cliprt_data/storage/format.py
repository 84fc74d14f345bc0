"""The on-disk format: file names, version, errors, metadata, serialized spaces, small JSON helpers.

Everything the checker, reader, writer and repair agree on lives here (see :mod:`cliprt_data.storage`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_data._util import package_versions
from cliprt_envs.files import fsync_dir, fsync_file
from cliprt_envs.motions import Vocabulary

DATA_SUBDIR = "data"
EPISODES_SUBDIR = "episodes"  # inside DATA_SUBDIR
EPISODE_GROUP = "episode"  # the group of an episode file that main_data.hdf5 links to
MINARI_METADATA = "metadata.json"
MINARI_MAIN_FILE = "main_data.hdf5"
MANIFEST_NAME = "cliprt_manifest.json"
SPACES_NAME = "cliprt_spaces.json"  # a backup of the serialized spaces, written once
SPACE_KEYS = ("observation_space", "action_space")
FORMAT_NAME = "cliprt-language-motion"
#: 2: one HDF5 file per episode, linked from main_data.hdf5; 1: every episode inside main_data.hdf5.
FORMAT_VERSION = 2
SINGLE_FILE_FORMAT = 1
ACTION_DIM = 8
DAMAGED_SUFFIX = ".damaged"  # suffix of files that repair set aside

#: Step kinds written to ``infos["step_kind"]``.
STEP_KINDS: tuple[str, ...] = (
    "reset",  # row 0 of every episode
    "teleop",  # a person's supervision, translated
    "collect",  # the scripted user's supervision, translated
    "policy",  # any other recorded step (an agent, a script)
    "demo",  # STA: a fine action copied from the demonstration
    "diversify",  # STA: a re-sampled action towards the next waypoint
    "deviate",  # STA: a deliberate deviation (never a label)
    "recover",  # STA: the reversal of a deviation (a label)
    "converted",  # converted from a low-level dataset
    "expert",  # pretraining corpus: the scripted expert's motion (a label)
    "perturb",  # pretraining corpus: a random motion that knocks the expert off its path (never a label)
)

_INSTALL_HINT = 'install the data extra: pip install "cliprt[data]"'
_ID_RE = re.compile(r"^[-_\w]+-v\d+$")


#: What h5py raises on a damaged or cut file (a DatasetCorruptedError is a ValueError too: catch it first where it matters).
READ_ERRORS: tuple[type[Exception], ...] = (OSError, KeyError, RuntimeError, ValueError)


class DatasetError(ValueError):
    """A dataset problem a person can act on (the message says how).

    A ``ValueError``, so the ``cliprt`` command prints it without a traceback.
    """


class DatasetNotFoundError(DatasetError):
    """No cliprt dataset where one was expected."""


class DatasetExistsError(DatasetError):
    """Refusing to overwrite a dataset."""


class DatasetCorruptedError(DatasetError):
    """The files on disk do not match what was committed."""


class DatasetIncompatibleError(DatasetError):
    """Appending data of another shape, env or vocabulary."""


class DatasetPaths:
    """Where Minari's files of dataset folder ``self.path`` are (shared by :class:`DatasetInfo` and the writer)."""

    path: Path

    @property
    def data_path(self) -> Path:
        return self.path / DATA_SUBDIR

    @property
    def main_file(self) -> Path:
        return self.data_path / MINARI_MAIN_FILE


def require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        from cliprt_envs.errors import MissingExtraError

        raise MissingExtraError(f"{module} is needed to read and write datasets; {_INSTALL_HINT}") from exc


# -- metadata ------------------------------------------------------------------


def build_metadata(
    *,
    source: str,
    vocabulary: Vocabulary,
    env_id: str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    task: str | None = None,
    has_sim_state: bool = False,
    action_kind: str = "motion",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``cliprt`` block of a dataset's metadata: env, vocabulary, versions."""
    if action_kind not in ("motion", "continuous"):
        raise ValueError(f"action_kind must be 'motion' or 'continuous', got {action_kind!r}")
    kwargs = {}
    for key, value in dict(env_kwargs or {}).items():
        try:
            json.dumps(value)
        except TypeError:
            continue  # e.g. a Vocabulary object: recorded separately below
        kwargs[key] = value
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "source": source,
        "env_id": env_id,
        "env_kwargs": kwargs,
        "task": task,
        "vocabulary": vocabulary.to_dict(),
        "has_sim_state": bool(has_sim_state),
        "action_kind": action_kind,
        "versions": package_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "layout": (
            "infos row 0 comes from reset, row t+1 from the step that took action t: "
            "the labels of action t (supervision, motion_id, action, labelled, step_kind) are in infos row t+1; "
            "sim_state row t is the simulator state at observation t"
        ),
    }
    if extra:
        meta.update(dict(extra))
    return meta


def dataset_id_for(path: Path) -> str:
    """A Minari dataset id for folder ``path`` (its name when that is a valid ``name-vN``)."""
    name = Path(path).resolve().name
    if _ID_RE.match(name):
        return name
    clean = re.sub(r"[^-_\w]+", "_", name).strip("_") or "cliprt"
    return f"{clean}-v0"


# -- files, spaces, manifest ------------------------------------------------------


def episode_file_name(index: int) -> str:
    """Where episode ``index`` lives, relative to the data folder: ``episodes/episode_000012.hdf5``."""
    return f"{EPISODES_SUBDIR}/episode_{index:06d}.hdf5"


def entry_file_name(entry: Mapping[str, Any], index: int) -> str:
    """The file of committed episode ``index`` (its manifest ``entry``), relative to the data folder."""
    return str(entry.get("file") or episode_file_name(index))


def space_json(space: Any) -> str:
    """Minari's serialization of ``space``, without blanks: the smallest text ``minari`` reads back exactly.

    Minari spells out a ``Box``'s bounds element by element, and Gymnasium
    refuses scalar bounds in their place, so an image space stays one number
    per pixel and channel (~90 kB at 64 px); leaving out Minari's blanks makes
    it about 30% smaller than Minari's own file.
    """
    from minari.serialization import serialize_space

    return json.dumps(serialize_space(space, to_string=False), separators=(",", ":"))


@functools.lru_cache(maxsize=16)
def _normal_space(text: str) -> str:
    return json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True)


def same_space(a: str, b: str) -> bool:
    """Whether two serialized spaces describe the same space, whatever blanks their writers used."""
    return a == b or _normal_space(a) == _normal_space(b)


def decode_texts(infos: Mapping[str, Any]) -> dict[str, Any]:
    """An episode's ``infos`` as read through ``minari``, with byte strings decoded to ``str``.

    Minari returns texts stored in infos as UTF-8 ``bytes`` (see the module
    docstring); this decodes them, recursing into nested dicts::

        ep = minari.load_dataset("pick-v0")[0]
        decode_texts(ep.infos)["supervision"][1]  # 'move left a bit'
    """
    out: dict[str, Any] = {}
    for key, value in infos.items():
        if isinstance(value, Mapping):
            out[key] = decode_texts(value)
        elif isinstance(value, np.ndarray) and (
            value.dtype.kind == "S" or (value.dtype == object and value.size and isinstance(value.flat[0], bytes))
        ):
            out[key] = [bytes(v).decode("utf-8") for v in value.ravel()]
        else:
            out[key] = value
    return out


def resolve_dataset_path(path: str | Path) -> Path:
    """An absolute path to the dataset folder; accepts ``DIR`` or ``DIR/data`` (what Minari calls the data path).

    Absolute because Minari joins relative paths twice when it measures a
    dataset, and because a path must keep meaning the same folder if the
    working directory changes.
    """
    p = Path(path).expanduser().absolute()
    if p.name == DATA_SUBDIR and (p / MINARI_METADATA).exists() and (p.parent / MANIFEST_NAME).exists():
        return p.parent
    return p


def read_json(path: Path, what: str, hint: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetCorruptedError(f"{what} {path} is damaged ({exc}); {hint}") from None
    if not isinstance(data, dict):
        raise DatasetCorruptedError(f"{what} {path} does not hold a JSON object; {hint}")
    return data


def repair_hint(path: Path) -> str:
    return (
        "the recorder was probably stopped while it was writing an episode, or a file was cut short; "
        f"run `cliprt dataset repair {path}` to keep every complete episode"
    )


def newer_format_error(root: Path, version: int) -> DatasetIncompatibleError:
    return DatasetIncompatibleError(f"{root} was written by a newer cliprt (format {version} > {FORMAT_VERSION}); upgrade cliprt")


def write_main_file(main: Path, files: Sequence[str]) -> None:
    """Write ``main_data.hdf5`` anew (atomically): ``episode_i`` links to ``files[i]``, relative to its folder."""
    h5py = require("h5py")
    tmp = main.with_name(f".{main.name}.tmp")
    with h5py.File(tmp, "w", track_order=True) as f:
        for i, name in enumerate(files):
            f[f"episode_{i}"] = h5py.ExternalLink(name, f"/{EPISODE_GROUP}")
    fsync_file(tmp)
    os.replace(tmp, main)
    fsync_dir(main.parent)


def manifest_copy(minari_meta: Mapping[str, Any]) -> dict[str, Any]:
    """What the manifest keeps of metadata.json: all but the spaces (in their own file) and our block (its "metadata")."""
    return {k: v for k, v in minari_meta.items() if k not in (*SPACE_KEYS, "cliprt")}


def megabytes(n_bytes: int) -> float:
    return round(n_bytes / 1e6, 1)  # Minari's "dataset_size": MB, one decimal


def read_spaces(root: Path) -> dict[str, str]:
    """The serialized spaces: from the spaces backup, else from metadata.json."""
    path = root / SPACES_NAME
    if path.exists():
        with contextlib.suppress(DatasetCorruptedError):
            spaces = unpack_spaces(read_json(path, "spaces", "it cannot be repaired automatically"))
            if all(k in spaces for k in SPACE_KEYS):
                return spaces
    with contextlib.suppress(DatasetCorruptedError, OSError):
        meta = read_json(root / DATA_SUBDIR / MINARI_METADATA, "", "")
        if all(isinstance(meta.get(k), str) for k in SPACE_KEYS):
            return {k: meta[k] for k in SPACE_KEYS}
    raise DatasetCorruptedError(
        f"{path} and {root / DATA_SUBDIR / MINARI_METADATA} are both missing or damaged, so the observation and "
        "action spaces are lost and the dataset cannot be rebuilt"
    )


def pack_spaces(spaces: Mapping[str, str]) -> dict[str, str]:
    """Minari's serialized spaces, zlib-compressed (mostly repeated Box bounds) and base64-encoded."""
    import base64
    import zlib

    return {f"{k}_zlib": base64.b64encode(zlib.compress(v.encode(), 9)).decode() for k, v in spaces.items()}


def unpack_spaces(packed: Mapping[str, str]) -> dict[str, str]:
    import base64
    import zlib

    try:
        return {
            k[: -len("_zlib")]: zlib.decompress(base64.b64decode(v)).decode() for k, v in packed.items() if k.endswith("_zlib")
        }
    except (ValueError, zlib.error) as exc:
        raise DatasetCorruptedError(f"the spaces backup {SPACES_NAME} is damaged ({exc})") from None


def episode_attrs(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The per-episode values Minari keeps as HDF5 attributes (plain scalars only)."""
    skip = ("index", "seed", "steps", "id", "file", "bytes")
    return {k: v for k, v in entry.items() if isinstance(v, (str, int, float, bool)) and k not in skip}


# -- storage options -------------------------------------------------------------


@dataclass(frozen=True)
class StorageConfig:
    """How episodes are stored.

    ``jpeg``: store images JPEG-encoded (Minari's encoder: ~10-20x smaller,
    lossy) or as raw arrays (lossless; needed when images must round-trip
    bit-exactly). ``None`` (default) decides by image size: raw up to
    :data:`JPEG_MIN_SIDE` pixels, JPEG above. Minari's JPEG (quality 75,
    4:2:0 chroma subsampling) smears the colour of objects a few pixels wide,
    which at 64 px changes what a policy sees (red turns brown, yellow and
    green mix), while raw 64 px frames cost only 12 kB.
    """

    jpeg: bool | None = None
    author: str | None = None
    description: str | None = None


#: Images with both sides up to this many pixels are stored raw when ``StorageConfig.jpeg`` is None.
JPEG_MIN_SIDE = 128


def resolve_jpeg(jpeg: bool | None, observation_space: Any) -> bool:
    """Whether to JPEG-encode images: ``jpeg`` if given, else True only for images wider or taller than JPEG_MIN_SIDE."""
    if jpeg is not None:
        return bool(jpeg)
    spaces = getattr(observation_space, "spaces", None)
    image = spaces.get("image") if isinstance(spaces, Mapping) else None
    shape = getattr(image, "shape", None)
    return shape is not None and len(shape) == 3 and max(shape[0], shape[1]) > JPEG_MIN_SIDE
