"""Language-motion episodes on disk: a Minari (HDF5) dataset plus a commit manifest.

Layout of a dataset folder ``DIR`` (Minari's own layout, so ``minari`` opens it)::

    DIR/data/metadata.json                 Minari metadata; our metadata under the key "cliprt"
    DIR/data/main_data.hdf5                Minari's episode index: episode_0, episode_1, ... are
                                           HDF5 external links to the files below
    DIR/data/episodes/episode_000000.hdf5  one file per episode (group "episode", Minari's layout)
    DIR/cliprt_manifest.json               what has been committed (written atomically)
    DIR/cliprt_spaces.json                 a copy of the serialized spaces (for repairs)

Open it with ``minari.MinariDataset("DIR/data")``, or name the folder
``<name>-v<N>``, set ``MINARI_DATASETS_PATH`` to its parent and call
``minari.load_dataset("<name>-v<N>")``. HDF5 resolves the links relative to
``main_data.hdf5``'s folder, so the dataset can be moved or copied whole and
opened from any working directory.

Per episode of ``N`` steps (Minari's conventions):

- ``observations``: the env's observation dict (``image`` uint8 HxWx3,
  ``instruction`` text, ``proprio``), ``N + 1`` rows (the last is the final one).
- ``actions``: the env's action (the motion id for language-motion envs), ``N`` rows.
- ``infos``: ``N + 1`` rows; row 0 comes from ``reset`` and row ``t + 1`` from
  the step that took action ``t``. So the label of action ``t`` (``supervision``,
  ``motion_id``, 8-D ``action``, ``labelled``, ``step_kind``...) is in row
  ``t + 1``, while ``sim_state`` row ``t`` is the simulator state *at*
  observation ``t`` (restore it to act again from there).

Texts in infos (``supervision``, ``step_kind``) come back from Minari as
UTF-8 ``bytes``: Minari reads infos without a space to tell it they are text,
and h5py returns HDF5 strings as bytes. :class:`DatasetReader` decodes them;
for episodes read through ``minari`` use :func:`decode_texts`. Observation
texts (``instruction``, a ``Text`` space) come back from Minari as ``str``.

Why one file per episode and a manifest: an episode is written into a new
file, then linked from ``main_data.hdf5``, then ``metadata.json`` and the
manifest are replaced atomically, all with Ctrl-C held back; the manifest
therefore always describes the last fully written episode, and on open we
compare it with the files and refuse, with a message that names ``cliprt
dataset repair``, anything that does not match. Damage stays local: a file
cut short (disk full, an interrupted copy) or overwritten loses only the
episode it holds, and ``main_data.hdf5`` and ``metadata.json`` hold nothing
that cannot be rebuilt from the manifest, which ``repair`` does. (HDF5 cannot
reopen a single file cut short, so the older layout, every episode in
``main_data.hdf5``, lost everything; such datasets are still read, and
``cliprt dataset repair`` converts them.)

Modules: :mod:`~cliprt_data.storage.format` (names, version, errors, metadata,
spaces), :mod:`~cliprt_data.storage.episode` (info rows, the in-memory builder,
the decoded episode), :mod:`~cliprt_data.storage.check` (the manifest check),
:mod:`~cliprt_data.storage.reader`, :mod:`~cliprt_data.storage.writer` and
:mod:`~cliprt_data.storage.repair`. Everything public is importable from here.
"""

from __future__ import annotations

from cliprt_data.storage.check import DatasetInfo, check_dataset, summarize
from cliprt_data.storage.episode import Episode, EpisodeBuilder, info_row
from cliprt_data.storage.format import (
    ACTION_DIM,
    DATA_SUBDIR,
    EPISODE_GROUP,
    EPISODES_SUBDIR,
    FORMAT_NAME,
    FORMAT_VERSION,
    JPEG_MIN_SIDE,
    MANIFEST_NAME,
    MINARI_MAIN_FILE,
    MINARI_METADATA,
    SINGLE_FILE_FORMAT,
    SPACES_NAME,
    STEP_KINDS,
    DatasetCorruptedError,
    DatasetError,
    DatasetExistsError,
    DatasetIncompatibleError,
    DatasetNotFoundError,
    StorageConfig,
    build_metadata,
    dataset_id_for,
    decode_texts,
    entry_file_name,
    episode_file_name,
    resolve_dataset_path,
    resolve_jpeg,
    same_space,
    space_json,
)
from cliprt_data.storage.reader import DatasetReader, decode_jpeg_stack, open_minari
from cliprt_data.storage.repair import repair_dataset
from cliprt_data.storage.writer import DatasetWriter

__all__ = [
    "ACTION_DIM",
    "DATA_SUBDIR",
    "EPISODES_SUBDIR",
    "EPISODE_GROUP",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "JPEG_MIN_SIDE",
    "MANIFEST_NAME",
    "MINARI_MAIN_FILE",
    "MINARI_METADATA",
    "SINGLE_FILE_FORMAT",
    "SPACES_NAME",
    "STEP_KINDS",
    "DatasetCorruptedError",
    "DatasetError",
    "DatasetExistsError",
    "DatasetIncompatibleError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "DatasetReader",
    "DatasetWriter",
    "Episode",
    "EpisodeBuilder",
    "StorageConfig",
    "build_metadata",
    "check_dataset",
    "dataset_id_for",
    "decode_jpeg_stack",
    "decode_texts",
    "entry_file_name",
    "episode_file_name",
    "info_row",
    "open_minari",
    "repair_dataset",
    "resolve_dataset_path",
    "resolve_jpeg",
    "same_space",
    "space_json",
    "summarize",
]
