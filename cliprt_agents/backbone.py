"""open_clip backbones: any model name with any pretrained tag, a local weights file or none.

Why a wrapper around ``open_clip.create_model``: without a network open_clip
retries the Hugging Face hub for about 40 s before failing with a message
that does not say what to do. Here a tag whose weights are not cached fails at
once with the three ways out (download while online, pass a local file, or
use no weights), and cached weights load without touching the network.

The tiny architecture :data:`~cliprt_agents.config.TINY_MODEL` (a 2-layer
ViT at 64 px with a 2-layer text tower and the real CLIP tokenizer) is
registered with open_clip on first use, for tests and CPU runs.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import socket
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from cliprt_agents.config import TINY_CONV_MODEL, TINY_MODEL
from cliprt_agents.errors import MissingDependencyError, PretrainedWeightsUnavailableError, WeightsFileError

log = logging.getLogger(__name__)

#: The tiny CLIP: ~7M parameters, most of them the 49408-token embedding table; 16 image patches.
TINY_MODEL_CONFIG: dict[str, Any] = {
    "embed_dim": 128,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 128, "head_width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 128, "heads": 2, "layers": 2},
}

_OFFLINE_VALUES = ("1", "true", "yes", "on")


def import_open_clip() -> Any:
    """open_clip with our tiny config registered (idempotent)."""
    try:
        import open_clip
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MissingDependencyError(f'CLIP-RT needs open_clip and torch: pip install "cliprt[clip]" ({exc})') from exc
    register_tiny_config(open_clip)
    return open_clip


def register_tiny_config(open_clip: Any) -> None:
    """Add :data:`TINY_MODEL` and :data:`TINY_CONV_MODEL` to open_clip's registry of architectures.

    The conv model is registered with the tiny config (tokenizer, text tower,
    embedding size); :func:`create_clip` then swaps in its CNN image tower.
    """
    names = [n for n in (TINY_MODEL, TINY_CONV_MODEL) if n not in open_clip.list_models()]
    if not names:
        return
    # open_clip's public API reads architectures from JSON files, and reads every registered folder
    # again whenever another is added: the folder stays until the process exits.
    import atexit
    import json
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="cliprt-open-clip-")
    atexit.register(shutil.rmtree, folder, True)
    for name in names:
        with open(os.path.join(folder, f"{name}.json"), "w") as f:
            json.dump(TINY_MODEL_CONFIG, f)
    open_clip.add_model_config(folder)


@dataclass(frozen=True)
class ResolvedWeights:
    """Where a model's weights come from after looking at caches and the network."""

    source: str | None  # a local file, an open_clip tag (to download) or None
    preprocess: dict[str, Any]  # mean/std/interpolation/resize_mode of the tag, if any
    quick_gelu: bool | None  # the activation the tag was trained with, if known


def hub_offline() -> bool:
    """True when the user told Hugging Face libraries not to use the network."""
    return any(os.environ.get(k, "").strip().lower() in _OFFLINE_VALUES for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _probe(host: str, port: int, timeout: float) -> bool:
    """A TCP connect with a hard deadline (getaddrinfo alone can hang on some resolvers)."""
    result = [False]

    def target() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result[0] = True
        except OSError:
            result[0] = False

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0]


def network_reachable(url: str, timeout: float = 2.0) -> bool:
    """Whether ``url``'s host (or the configured HTTPS proxy) accepts a connection quickly."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    target = urlparse(proxy if proxy else url)
    host = target.hostname
    if not host:
        return False
    port = target.port or (443 if target.scheme in ("https", "") else 80)
    return _probe(host, port, timeout)


def _hub_cached_file(repo_and_file: str) -> str | None:
    """Path of an open_clip ``hf_hub`` entry in the local Hugging Face cache, if there."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    if repo_and_file.endswith("/"):
        repo_id, filename = repo_and_file.rstrip("/"), "open_clip_pytorch_model.bin"
    else:
        repo_id, filename = os.path.split(repo_and_file)
    stem, ext = os.path.splitext(filename)
    # open_clip prefers a .safetensors twin of a pickle file when the repo has one.
    filenames = [filename]
    if filename == "open_clip_pytorch_model.bin":
        filenames.insert(0, "open_clip_model.safetensors")
    elif ext in (".bin", ".pt", ".pth"):
        filenames.insert(0, f"{stem}.safetensors")
    for name in filenames:
        try:
            path = try_to_load_from_cache(repo_id=repo_id, filename=name)
        except Exception:  # malformed ids: treat as not cached
            path = None
        if isinstance(path, str) and os.path.isfile(path):
            return path
    return None


def _url_cached_file(url: str) -> str | None:
    path = os.path.join(os.path.expanduser("~/.cache/clip"), os.path.basename(url))
    return path if os.path.isfile(path) else None


def _looks_like_path(value: str) -> bool:
    return os.sep in value or value.startswith(".") or value.endswith((".pt", ".pth", ".bin", ".safetensors", ".ckpt"))


def how_to_get_weights(model_name: str, tag: str, hub: str = "") -> str:
    repo = hub.rstrip("/").split("/")
    repo_id = "/".join(repo[:2]) if len(repo) >= 2 else ""
    lines = [
        f"open_clip weights {model_name!r} / {tag!r} are not on this machine and cannot be downloaded now "
        f"({'HF_HUB_OFFLINE is set' if hub_offline() else 'no network'}). Either:",
        "  1. download them once on a machine with internet, e.g.\n"
        f"       python -c \"import open_clip; open_clip.create_model('{model_name}', pretrained='{tag}')\""
        + (f"\n     (or `huggingface-cli download {repo_id}`)" if repo_id else "")
        + ", then copy the Hugging Face cache (~/.cache/huggingface) here;",
        "  2. pass a local weights file instead of the tag: --pretrained /path/to/open_clip_pytorch_model.bin;",
        "  3. train from random weights: --pretrained none.",
    ]
    return "\n".join(lines)


def resolve_weights(model_name: str, pretrained: str | None, *, check_network: bool = True) -> ResolvedWeights:
    """Turn ``pretrained`` into a local file, a tag to download, or None; fail fast offline.

    Raises :class:`PretrainedWeightsUnavailableError` at once when a tag's
    weights are not cached and the hub cannot be reached, and
    FileNotFoundError / ValueError for a missing file or an unknown tag.
    """
    if pretrained is None or str(pretrained).strip().lower() in ("", "none", "random"):
        return ResolvedWeights(None, {}, None)
    pretrained = str(pretrained)
    if os.path.isfile(pretrained):
        return ResolvedWeights(pretrained, {}, None)
    open_clip = import_open_clip()
    if model_name.startswith(("hf-hub:", "local-dir:")):
        raise ValueError(f"model {model_name!r} carries its own weights; leave pretrained unset (got {pretrained!r})")
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not cfg:
        if _looks_like_path(pretrained):
            raise FileNotFoundError(f"pretrained weights file {pretrained!r} does not exist")
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        known = (
            f"known tags for {model_name}: {', '.join(tags)}" if tags else f"open_clip has no pretrained tags for {model_name!r}"
        )
        raise ValueError(f"{pretrained!r} is neither a pretrained tag nor a file; {known}")
    preprocess = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if cfg.get(k) is not None}
    quick_gelu = bool(cfg.get("quick_gelu", False))
    if cfg.get("file"):
        return ResolvedWeights(cfg["file"], preprocess, quick_gelu)
    hub, url = cfg.get("hf_hub", ""), cfg.get("url", "")
    cached = (_hub_cached_file(hub) if hub else None) or (_url_cached_file(url) if url else None)
    if cached:
        log.info("using cached weights %s for %s/%s", cached, model_name, pretrained)
        return ResolvedWeights(cached, preprocess, quick_gelu)
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co") if hub else url
    if hub_offline() or (check_network and not network_reachable(endpoint)):
        raise PretrainedWeightsUnavailableError(how_to_get_weights(model_name, pretrained, hub))
    return ResolvedWeights(pretrained, preprocess, quick_gelu)


def check_hub_model(model_name: str) -> None:
    """Fail at once for an ``hf-hub:`` model whose config is neither cached nor downloadable."""
    repo_id = model_name[len("hf-hub:") :]
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id=repo_id, filename="open_clip_config.json")
    except Exception:  # a malformed id or no huggingface_hub: let open_clip report it
        return
    if isinstance(cached, str) and os.path.isfile(cached):
        return
    if hub_offline() or not network_reachable(os.environ.get("HF_ENDPOINT", "https://huggingface.co")):
        raise PretrainedWeightsUnavailableError(
            f"model {model_name!r} is not in the local Hugging Face cache and the hub cannot be reached "
            f"({'HF_HUB_OFFLINE is set' if hub_offline() else 'no network'}); download it once while online "
            f"(`huggingface-cli download {repo_id}`) and copy ~/.cache/huggingface here, or use a built-in "
            "model name with --pretrained none"
        )


def create_clip(
    model_name: str, pretrained: str | None, *, image_size: int | None = None, text_tower: str = "own"
) -> tuple[Any, dict[str, Any]]:
    """An open_clip model (on the CPU, fp32) and its final preprocessing config.

    ``text_tower`` other than ``"own"`` swaps in a frozen Hugging Face
    sentence encoder (:mod:`cliprt_agents.sentence_tower`).
    """
    open_clip = import_open_clip()
    if model_name.startswith("hf-hub:"):
        check_hub_model(model_name)
    weights = resolve_weights(model_name, pretrained)
    kwargs: dict[str, Any] = {}
    if image_size is not None:
        kwargs["force_image_size"] = image_size
    if text_tower != "own":
        from cliprt_agents.sentence_tower import encoder_folder, open_clip_text_cfg

        kwargs["force_custom_text"] = True
        kwargs["text_cfg"] = open_clip_text_cfg(encoder_folder(text_tower))
    if weights.source is not None and weights.source != pretrained:
        # A cached file stands in for the tag: keep the tag's preprocessing.
        kwargs["force_preprocess_cfg"] = dict(weights.preprocess)
        arch = open_clip.get_model_config(model_name) or {}
        if weights.quick_gelu is not None and bool(arch.get("quick_gelu", False)) != weights.quick_gelu:
            warnings.warn(
                f"QuickGELU mismatch: {model_name} uses quick_gelu={arch.get('quick_gelu', False)} but tag "
                f"{pretrained!r} was trained with quick_gelu={weights.quick_gelu}; use the '-quickgelu' model name",
                UserWarning,
                stacklevel=2,
            )
    local_file = weights.source is not None and os.path.isfile(weights.source)
    if local_file:
        check_weights_file(weights.source, model_name)
    try:
        quiet_text = contextlib.nullcontext()
        if text_tower != "own":
            from cliprt_agents.sentence_tower import quiet_loading

            quiet_text = quiet_loading()
        with _quiet_random_init(weights.source is None), quiet_text:
            model = open_clip.create_model(model_name, pretrained=weights.source, **kwargs)
    except Exception as exc:
        if isinstance(exc, RuntimeError) and "not found in built-ins" in str(exc):
            raise ValueError(
                f"unknown open_clip model {model_name!r}; see open_clip.list_models() (or use {TINY_MODEL!r} for CPU tests)"
            ) from None
        if local_file:
            raise WeightsFileError(
                f"pretrained weights {weights.source!r} cannot be loaded into {model_name} ({_load_failure(exc)}); {_WEIGHTS_FIX}"
            ) from None
        raise
    preprocess = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
    if model_name == TINY_CONV_MODEL:
        from cliprt_agents.conv_tower import ConvImageTower

        size = image_size or int(TINY_MODEL_CONFIG["vision_cfg"]["image_size"])
        model.visual = ConvImageTower(int(TINY_MODEL_CONFIG["embed_dim"]), size, preprocess_cfg=preprocess)
    return model, preprocess


_WEIGHTS_FIX = (
    "pass an open_clip weights file (.bin, .pt or .safetensors) made for this model, an open_clip tag, or none for random weights"
)

#: How a weights file starts: a zip archive (torch.save since 1.6, TorchScript), a pickle (older torch.save).
_TORCH_MAGIC = (b"PK\x03\x04", b"\x80")


def check_weights_file(path: str, model_name: str = "the model") -> None:
    """Fail with a clear message unless ``path`` looks like a torch or safetensors weights file.

    A text file or random bytes otherwise fail deep inside ``torch.load``
    (IndexError, KeyError, UnpicklingError...) with nothing saying what to do.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise WeightsFileError(f"pretrained weights {path!r} cannot be read ({exc.strerror}); {_WEIGHTS_FIX}") from None
    if _is_safetensors(path, head) or head.startswith(_TORCH_MAGIC):
        return
    if not head:
        why = "is empty"
    elif all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        why = "is a text file, not a torch checkpoint or a safetensors file"
    else:
        why = "is neither a torch checkpoint nor a safetensors file"
    raise WeightsFileError(f"pretrained weights {path!r} for {model_name} {why}; {_WEIGHTS_FIX}")


def _is_safetensors(path: str, head: bytes) -> bool:
    """A safetensors file: an 8-byte little-endian header length, then a JSON object that fits in the file."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    size = int.from_bytes(head[:8], "little")
    return 0 < size <= os.path.getsize(path) - 8


def _load_failure(exc: BaseException) -> str:
    """Why open_clip could not load a weights file, in a few words."""
    if isinstance(exc, RuntimeError) and "state_dict" in str(exc):
        first = str(exc).strip().splitlines()[0]
        return f"its tensors do not fit this architecture: {first[:120]}"
    return f"torch cannot read it: {type(exc).__name__}"


class _DropRandomInitWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()


@contextlib.contextmanager
def _quiet_random_init(active: bool) -> Iterator[None]:
    """Silence open_clip's root-logger warning when random weights were asked for on purpose."""
    if not active:
        yield
        return
    root = logging.getLogger()
    filt = _DropRandomInitWarning()
    root.addFilter(filt)
    try:
        yield
    finally:
        root.removeFilter(filt)


def get_tokenizer(model_name: str, text_tower: str = "own") -> Any:
    """open_clip's tokenizer for ``model_name`` (the tiny model uses CLIP's BPE tokenizer), or the sentence encoder's."""
    if text_tower != "own":
        from cliprt_agents.sentence_tower import encoder_folder, make_tokenizer

        import_open_clip()
        return make_tokenizer(encoder_folder(text_tower))
    return import_open_clip().get_tokenizer(model_name)


def model_architecture(model_name: str) -> dict[str, Any]:
    """open_clip's architecture dict for ``model_name`` (empty for hub/local-dir names)."""
    cfg = import_open_clip().get_model_config(model_name)
    return copy.deepcopy(cfg) if cfg else {}
