"""The CLIP-RT authors' own checkpoints, run zero-shot in our envs (CLIP-RT-Zero).

``load_policy("hf-hub:clip-rt/clip-rt-oxe-pretrained")`` (and so the agent
spec ``clip-rt=hf-hub:clip-rt/clip-rt-oxe-pretrained``) builds the authors' OXE-pretrained open_clip model
(``ViT-H-14-378-quickgelu``, about 4 GB) with their prompt and their 58 motion
texts, and no fine-tuning. Their texts spell magnitudes in words ("tilt arm up
fourty five degrees"), the words their model was trained on, so the policy
scores those texts; each chosen motion is then executed through its 8-D delta
as the env's own motion with that delta (:func:`~cliprt_envs.motions.motion_map`):
for the default vocabulary that is a one-to-one renaming.

Where the files come from:

* ``hf-hub:ORG/REPO``: the local Hugging Face cache, else a download. Offline
  (``HF_HUB_OFFLINE=1``, or the hub unreachable within 2 s) and not cached, it
  fails at once with :class:`PretrainedWeightsUnavailableError` saying what to
  download and how to pass the files instead.
* a local folder laid out like the hub repo: ``open_clip_config.json`` with
  ``open_clip_model.safetensors`` / ``open_clip_pytorch_model.bin`` (open_clip's
  hub layout), or a weights file such as ``cliprt-oxe-pretrained.pt`` (the
  authors' training checkpoint; the architecture is then ``architecture=``,
  by default theirs); optionally ``language_to_action.json``;
* a weights file itself (``.pt``, ``.pth``, ``.bin``).

The motion table is ``table=`` (a path or a Vocabulary), else a
``language_to_action.json`` found with the weights, else
:func:`~cliprt_envs.motions.authors_vocabulary`, which rebuilds the authors'
published table text for text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from cliprt_agents.config import PROMPT_TEMPLATE, ModelConfig
from cliprt_agents.errors import CheckpointError, PretrainedWeightsUnavailableError, WeightsFileError
from cliprt_agents.policy import CLIPRTPolicy
from cliprt_envs.motions import AUTHORS_TABLE_FILE, Vocabulary, authors_vocabulary, motion_map, read_authors_table

if TYPE_CHECKING:
    from cliprt_agents.model import CLIPRT

HUB_PREFIX = "hf-hub:"
AUTHORS_REPO = "clip-rt/clip-rt-oxe-pretrained"
AUTHORS_CHECKPOINT = HUB_PREFIX + AUTHORS_REPO
AUTHORS_ARCHITECTURE = "ViT-H-14-378-quickgelu"
#: The authors' prompt, "what motion should the robot arm perform to complete the instruction '{}'?".
AUTHORS_PROMPT = PROMPT_TEMPLATE
OPEN_CLIP_CONFIG = "open_clip_config.json"
#: Weights files by preference: open_clip's hub names, then the authors' checkpoint.
WEIGHTS_NAMES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
    "cliprt-oxe-pretrained.pt",
)
WEIGHTS_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
#: Suffixes open_clip itself finds in a ``local-dir:`` folder.
_OPEN_CLIP_SUFFIXES = (".safetensors", ".bin", ".pth")
_CLIPRT_CONFIG = "config.json"  # a CLIP-RT checkpoint folder (cliprt_agents.checkpoint) has one


@dataclass(frozen=True)
class HubFiles:
    """The files of an authors' checkpoint on this machine."""

    weights: Path
    open_clip_config: Path | None = None
    table: Path | None = None


# -- what a path names -----------------------------------------------------------------
def is_hub_checkpoint(path: str | os.PathLike[str]) -> bool:
    """True for ``hf-hub:...`` and for local open_clip weights (a file, or a folder without a CLIP-RT config.json)."""
    text = str(path)
    if text.startswith(HUB_PREFIX):
        return True
    p = Path(text).expanduser()
    if p.is_file():
        return p.suffix in (".pt", ".pth", ".bin")
    if p.is_dir() and not (p / _CLIPRT_CONFIG).is_file():
        return (p / OPEN_CLIP_CONFIG).is_file() or any(f.suffix in (".pt", ".pth", ".bin") for f in p.iterdir())
    return False


def pick_weights(names: list[str]) -> str | None:
    """The weights file among ``names`` (paths inside a folder or repo), by :data:`WEIGHTS_NAMES` then suffix."""
    top = [n for n in names if "/" not in n and n.endswith(WEIGHTS_SUFFIXES)]
    for preferred in WEIGHTS_NAMES:
        if preferred in top:
            return preferred
    top.sort(key=lambda n: (WEIGHTS_SUFFIXES.index(Path(n).suffix), n))
    return top[0] if top else None


def files_in_folder(folder: Path, where: str) -> HubFiles:
    """The weights, open_clip config and motion table of a folder laid out like the hub repo."""
    weights = pick_weights(sorted(f.name for f in folder.iterdir() if f.is_file()))
    if weights is None:
        raise CheckpointError(
            f"{where} holds no weights file ({', '.join(WEIGHTS_NAMES[:3])}, cliprt-oxe-pretrained.pt or another "
            f"{'/'.join(WEIGHTS_SUFFIXES)} file); {_PASS_LOCAL}"
        )
    config = folder / OPEN_CLIP_CONFIG
    tables = [folder / AUTHORS_TABLE_FILE, folder / "docs" / AUTHORS_TABLE_FILE]
    table = next((t for t in tables if t.is_file()), None)
    return HubFiles(folder / weights, config if config.is_file() else None, table)


# -- the hub -------------------------------------------------------------------------------
_PASS_LOCAL = (
    'pass local files: load_policy("/path/to/folder"), a folder with the weights (cliprt-oxe-pretrained.pt, or '
    "open_clip_config.json + open_clip_pytorch_model.bin) and optionally the motion table language_to_action.json "
    '(docs/ of github.com/clip-rt/clip-rt); or load_policy("/path/to/cliprt-oxe-pretrained.pt", '
    'table="/path/to/language_to_action.json"); on the command line, --agent clip-rt=/path/to/folder'
)


def how_to_get(repo_id: str, why: str) -> str:
    """What to download and how to pass it, when ``hf-hub:repo_id`` cannot be had now."""
    return "\n".join(
        [
            f"the CLIP-RT checkpoint 'hf-hub:{repo_id}' is not in the local Hugging Face cache and cannot be "
            f"downloaded now ({why}). Either:",
            f"  1. download it once while online, `hf download {repo_id}` (the authors' open_clip weights, several GB), "
            "then copy the Hugging Face cache (~/.cache/huggingface) here; or",
            f"  2. {_PASS_LOCAL}.",
            "Without a motion table the authors' published 58 motions are used.",
        ]
    )


def _cached_snapshot(repo_id: str, revision: str | None, cache_dir: str | os.PathLike[str] | None) -> Path | None:
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, local_files_only=True))
    except Exception:  # not cached (LocalEntryNotFoundError), a malformed id...: download or report it
        return None
    return folder if pick_weights(sorted(f.name for f in folder.iterdir())) else None


def _download(repo_id: str, revision: str | None, cache_dir: str | os.PathLike[str] | None) -> Path:
    from huggingface_hub import list_repo_files, snapshot_download

    try:
        names = list_repo_files(repo_id, revision=revision)
        weights = pick_weights(names)
        if weights is None:
            raise CheckpointError(f"hub repo {repo_id!r} has no open_clip weights file (files: {names[:10]})")
        wanted = [weights, OPEN_CLIP_CONFIG, f"*{AUTHORS_TABLE_FILE}"]
        return Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, allow_patterns=wanted))
    except CheckpointError:
        raise
    except Exception as exc:  # network errors, a missing or gated repo
        raise PretrainedWeightsUnavailableError(how_to_get(repo_id, f"{type(exc).__name__}: {exc}")) from None


def hub_folder(
    repo_id: str, *, revision: str | None = None, cache_dir: str | os.PathLike[str] | None = None, check_network: bool = True
) -> Path:
    """The local snapshot of ``repo_id``: the cache's, else a download; fails at once when neither can be had."""
    from cliprt_agents.backbone import hub_offline, network_reachable

    cached = _cached_snapshot(repo_id, revision, cache_dir)
    if cached is not None:
        return cached
    if hub_offline():
        raise PretrainedWeightsUnavailableError(how_to_get(repo_id, "HF_HUB_OFFLINE is set"))
    if check_network and not network_reachable(os.environ.get("HF_ENDPOINT", "https://huggingface.co")):
        raise PretrainedWeightsUnavailableError(how_to_get(repo_id, "the hub cannot be reached"))
    return _download(repo_id, revision, cache_dir)


def locate(
    source: str | os.PathLike[str], *, revision: str | None = None, cache_dir: str | os.PathLike[str] | None = None
) -> HubFiles:
    """The files behind ``source``: ``hf-hub:ORG/REPO``, a folder laid out like it, or a weights file."""
    text = str(source)
    if text.startswith(HUB_PREFIX):
        repo_id = text[len(HUB_PREFIX) :].strip("/")
        return files_in_folder(hub_folder(repo_id, revision=revision, cache_dir=cache_dir), f"hub repo {repo_id!r}")
    p = Path(text).expanduser()
    if p.is_file():
        table = p.parent / AUTHORS_TABLE_FILE
        return HubFiles(p, None, table if table.is_file() else None)
    if p.is_dir():
        return files_in_folder(p, f"{str(p)!r}")
    raise CheckpointError(f"{text!r} does not exist; give 'hf-hub:{AUTHORS_REPO}', or {_PASS_LOCAL}")


# -- the model and the policy ------------------------------------------------------------------
def motion_table(table: str | os.PathLike[str] | Vocabulary | None, files: HubFiles | None = None) -> Vocabulary:
    """The vocabulary the model scores: ``table``, else the one found with the weights, else the authors'."""
    if isinstance(table, Vocabulary):
        return table
    if table is not None:
        return read_authors_table(table)
    if files is not None and files.table is not None:
        return read_authors_table(files.table)
    return authors_vocabulary()


def build_hub_model(files: HubFiles, vocabulary: Vocabulary, *, architecture: str = AUTHORS_ARCHITECTURE) -> CLIPRT:
    """A CLIP-RT language model (on the CPU) from open_clip weights, with the authors' prompt."""
    from cliprt_agents.backbone import import_open_clip
    from cliprt_agents.model import build_model

    folder = files.weights.parent
    if files.open_clip_config is None:
        config = ModelConfig(backbone=architecture, pretrained=str(files.weights), prompt_template=AUTHORS_PROMPT)
        try:
            return build_model(config, vocabulary).eval()
        except WeightsFileError as exc:
            raise WeightsFileError(
                f"{exc}; if these are not {architecture} weights, pass architecture=<open_clip model name>, "
                f"or put the model's {OPEN_CLIP_CONFIG} next to them"
            ) from None
    # open_clip's own hub layout: the architecture and preprocessing come from open_clip_config.json.
    config = ModelConfig(backbone=f"local-dir:{folder}", pretrained=None, prompt_template=AUTHORS_PROMPT)
    model = build_model(config, vocabulary)
    if not any(f.suffix in _OPEN_CLIP_SUFFIXES for f in folder.iterdir() if f.is_file()):
        import_open_clip().load_checkpoint(model.clip, str(files.weights))  # a .pt, which open_clip does not look for
    return model.eval()


class CLIPRTZeroPolicy(CLIPRTPolicy):
    """A CLIP-RT policy that scores one vocabulary (the authors') and acts in another (the env's).

    ``vocabulary``, ``scores``, ``last_step`` and corrections are in the scored
    vocabulary; :meth:`act` returns ids of ``action_vocabulary``, each the
    env's motion with the chosen motion's delta (or the nearest one).
    """

    def __init__(self, model: CLIPRT, vocabulary: Vocabulary, *, action_vocabulary: Vocabulary | None = None, **kwargs: Any):
        self.action_vocabulary = vocabulary if action_vocabulary is None else action_vocabulary
        super().__init__(model, vocabulary, **kwargs)
        self.action_ids = motion_map(vocabulary, self.action_vocabulary)

    def set_vocabulary(self, vocabulary: Vocabulary) -> None:
        super().set_vocabulary(vocabulary)
        self.action_ids = motion_map(vocabulary, self.action_vocabulary)

    def act(self, observation: dict[str, Any]) -> int | np.ndarray:
        """The env's motion id for the chosen motion (a ``(B,)`` array for a batch)."""
        chosen = super().act(observation)
        if isinstance(chosen, np.ndarray):
            return self.action_ids[chosen]
        return int(self.action_ids[chosen])


def load_hub_policy(
    source: str | os.PathLike[str] = AUTHORS_CHECKPOINT,
    *,
    device: str | torch.device = "cpu",
    vocabulary: Vocabulary | None = None,
    table: str | os.PathLike[str] | Vocabulary | None = None,
    architecture: str = AUTHORS_ARCHITECTURE,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> CLIPRTZeroPolicy:
    """CLIP-RT-Zero from the authors' checkpoint: see the module docstring for ``source`` and ``table``.

    ``vocabulary`` is the env's (what :meth:`~CLIPRTZeroPolicy.act` returns ids
    of; default: the scored table itself). Other keywords go to the policy
    (``selection``, ``precision``, ``scorer``...).
    """
    from cliprt_agents.devices import resolve_device

    kwargs.pop("allow_new_vocabulary", None)  # scoring the authors' texts is what this policy does
    resolved = resolve_device(device)  # before any download: a missing GPU is reported as such
    files = locate(source, revision=revision, cache_dir=cache_dir)
    scored = motion_table(table, files)
    model = build_hub_model(files, scored, architecture=architecture)
    return CLIPRTZeroPolicy(model, scored, action_vocabulary=vocabulary, device=resolved, **kwargs)
