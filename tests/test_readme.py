"""The README as a new user meets it: its commands and code run as written.

Every shell command and Python block is extracted from README.md (never
copied here), then run in README order from a fresh working directory with
the README's own relative paths. Commands that would take minutes or need the
network run in *smoke form*: the same command with the flags in ``SMOKE``
replaced (smaller counts, ``--pretrained none``); the README form of those
that need the network is run too and must fail at once with a clear message.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent

pytestmark = [pytest.mark.slow, pytest.mark.sim]

#: Lines the other tests own: ``make test`` is this very run, ``make demo`` is
#: run in its documented smoke mode below, ``pip install`` is what ``make`` does.
NOT_RUN_HERE = ("make ", "pip ")

#: The README's RoboCLIP command with the paper's S3D: its weight files are a download of the user's.
S3D_COMMAND = (
    "cliprt roboclip train --env metaworld:drawer-close --encoder s3d --encoder-weights s3d_howto100m.pth "
    "--encoder-vocabulary s3d_dict.npy --out runs/roboclip-drawer-close"
)

#: README command (as written) -> flags replaced in its smoke form.
SMOKE: dict[str, dict[str, list[str]]] = {
    "cliprt envs": {},
    "cliprt doctor": {},
    "cliprt demo --out runs/demo": {"--smoke": []},
    "cliprt collect --env CLIPRT-UR5Sim-Pick-v0 --episodes 10 --out runs/pick-v0": {
        "--episodes": ["2"],
        "--image-size": ["64"],
    },
    "cliprt teleop --env CLIPRT-UR5Sim-Pick-v0 --episodes 10 --out runs/pick-teleop-v0": {
        "--episodes": ["1"],
        "--image-size": ["64"],
    },
    "cliprt augment --data runs/pick-v0 --out runs/pick-sta-v0 --per-demo 3": {"--per-demo": ["1"]},
    "cliprt train --data runs/pick-sta-v0 --model ViT-B-32 --pretrained laion2b_s34b_b79k --out runs/clip-rt": {
        "--pretrained": ["none"],
        "--max-steps": ["2"],
        "--batch-size": ["4"],
    },
    "cliprt bench run --suite sim --out runs/bench-suite": {
        "--episodes": ["1"],
        "--env": ["CLIPRT-UR5Sim-Pick-v0"],
        "--image-size": ["64"],
    },
    "cliprt bench run --env all-sim --agent expert --agent random --agent clip-rt=runs/clip-rt --episodes 20 --out runs/bench": {
        "--episodes": ["1"],
        "--env": ["CLIPRT-UR5Sim-Pick-v0"],
    },
    "cliprt bench compare runs/bench-suite runs/bench": {},
    "cliprt train --synthetic 512 --model CLIPRT-Tiny --pretrained none --lr 5e-4 "
    "--max-steps 50 --batch-size 32 --threads 1 --out runs/toy": {},
    "cliprt train --collect-sim Pick,Push --episodes 50 --out runs/clip-rt-sim": {
        "--episodes": ["1"],
        "--sim-image-size": ["64"],
        "--model": ["CLIPRT-Tiny"],
        "--pretrained": ["none"],
        "--max-steps": ["2"],
        "--batch-size": ["4"],
    },
    "cliprt train bc --data runs/pick-sta-v0 --out runs/bc": {"--epochs": ["1"], "--batch-size": ["8"]},
    "cliprt train ppo --env CLIPRT-UR5Sim-Pick-v0 --total-timesteps 200000 --out runs/ppo": {
        "--total-timesteps": ["32"],
        "--n-envs": ["1"],
        "--n-steps": ["32"],
        "--batch-size": ["32"],
        "--image-size": ["36"],
    },
    "torchrun --nproc_per_node=4 -m cliprt.cli train --data runs/pick-sta-v0 --batch-size 128 --out runs/clip-rt-ddp": {
        "--nproc_per_node": ["2"],
        "--model": ["CLIPRT-Tiny"],
        "--pretrained": ["none"],
        "--max-steps": ["2"],
        "--batch-size": ["4"],
    },
    "cliprt pretrain-data --out runs/corpus": {"--episodes-per-task": ["1"], "--tasks": ["PointTo"]},
    "cliprt pretrain --data runs/corpus --out runs/pretrain": {
        "--max-steps": ["2"],
        "--batch-size": ["4"],
        "--num-workers": ["0"],
        "--val-fraction": ["0"],
    },
    "cliprt pretrain-data --out runs/corpus-dagger --episodes-per-task 200 --driver runs/pretrain --driver-prob 0.5 "
    "--first-episode 20000": {"--episodes-per-task": ["1"], "--tasks": ["PointTo"]},
    "python -m benchmarks.env_speed": {"--steps": ["5"], "--size": ["64"], "--tasks": ["Pick"]},
    "python -m benchmarks.experts": {"--episodes": ["1"], "--tasks": ["Pick"]},
    "python -m benchmarks.bench_step_cost": {"--episodes": ["1"], "--tasks": ["Pick"]},
    "python -m benchmarks.data_speed": {"--episodes": ["1"], "--image-size": ["64"], "--per-demo": ["1"]},
    "python -m benchmarks.inference_speed": {
        "--models": ["CLIPRT-Tiny"],
        "--envs": ["2"],
        "--image-size": ["64"],
        "--rounds": ["1"],
        "--seconds": ["0.2"],
        "--threads": ["1"],
    },
    "python -m benchmarks.train_speed": {"--steps": ["2"], "--batch-size": ["8"], "--samples": ["64"]},
    "python -m benchmarks.selection_temperature --agent cliprt-ur5sim-v6": {
        "--episodes": ["1"],
        "--temperatures": ["0.3"],
        "--workers": ["1"],
    },
    "python -m benchmarks.text_tower_speed": {"--batch-size": ["8"], "--repeat": ["1"]},
    # runs/demo is the smoke main job's (cliprt demo --out runs/demo above): 3 Pick demonstrations, as written
    "python -m benchmarks.demo_scenes --agent clip-rt=runs/demo/models/clip-rt?selection=sample&temperature=0.3&revisits=avoid "
    "--data runs/demo/data/pick-demos-v0": {},
    "python -m benchmarks.object_grounding --models shipped=cliprt-ur5sim-v6": {"--episodes": ["1"], "--tasks": ["Pick"]},
    "python -m benchmarks.unseen_scenes --models shipped=cliprt-ur5sim-v6": {"--episodes": ["1"], "--tasks": ["Pick"]},
    "cliprt run --policy cliprt-ur5sim-v6 --env CLIPRT-UR5Sim-Place-v0 --camera wrist --image-size 64 "
    "--out runs/place-corrected": {},
    "cliprt bench run --env CLIPRT-UR5Sim-Place-v0 --agent clip-rt=cliprt-ur5sim-v6 --camera wrist --image-size 64 "
    "--corrections 4 --out runs/bench-k4": {"--episodes": ["1"], "--max-steps": ["5"], "--video-episodes": ["0"]},
    "cliprt bench run --env CLIPRT-UR5Sim-Pick-v0 --env CLIPRT-UR5Sim-Place-v0 --agent expert --agent "
    "clip-rt=cliprt-ur5sim-v6 --camera wrist --image-size 64 --scene extra_objects --episodes 3 --out runs/bench-extra": {
        "--episodes": ["1"],
        "--video-episodes": ["0"],
    },
    "python -m benchmarks.ur5_faults": {"--faults": ["protective_stop", "camera_timeout"]},
    "python -m benchmarks.ur5_latency": {"--agent": ["random"], "--steps": ["3"], "--mode": ["moveL"], "--image-size": ["64"]},
    "python -m benchmarks.libero_speed": {"--steps": ["2"], "--size": ["64"], "--model": ["CLIPRT-Tiny"], "--chunks": ["2"]},
    "cliprt roboclip train-encoder --out runs/roboclip-encoder": {
        "--tasks": ["PointTo"],
        "--episodes": ["1"],
        "--steps": ["2"],
        "--batch-size": ["4"],
    },
    "cliprt roboclip train --env sim:PointTo --encoder trained --encoder-weights runs/roboclip-encoder "
    "--demo expert --out runs/roboclip-point": {
        "--steps": ["32"],
        "--n-envs": ["1"],
        "--n-steps": ["32"],
        "--batch-size": ["32"],
        "--eval-episodes": ["1"],
    },
    "cliprt roboclip train --env sim:PointTo --reward true --out runs/ppo-point-sparse": {
        "--steps": ["32"],
        "--n-envs": ["1"],
        "--n-steps": ["32"],
        "--batch-size": ["32"],
        "--eval-episodes": ["1"],
    },
    S3D_COMMAND: {
        "--encoder": ["clip-frames"],
        "--clip-model": ["CLIPRT-Tiny"],
        "--render-width": ["32"],
        "--render-height": ["32"],
        "--frame-size": ["32"],
        "--num-frames": ["4"],
        "--steps": ["32"],
        "--n-envs": ["1"],
        "--n-steps": ["32"],
        "--batch-size": ["32"],
        "--episode-steps": ["16"],
        "--eval-episodes": ["1"],
    },
    "python -m benchmarks.roboclip_cost": {
        "--repeats": ["1"],
        "--encoders": ["tiny", "trained"],
        "--steps": ["8"],
        "--n-envs": ["1"],
        "--mw-size": ["32"],
    },
    "python -m benchmarks.learnability": {
        "--cameras": ["wrist"],
        "--demos": ["2"],
        "--test-demos": ["1"],
        "--steps": ["2"],
        "--batch-size": ["4"],
        "--episodes": ["1"],
        "--num-envs": ["1"],
    },
}

#: README commands that need pretrained weights from the network.
NEEDS_NETWORK = ("cliprt train --data runs/pick-sta-v0 --model ViT-B-32 --pretrained laion2b_s34b_b79k --out runs/clip-rt",)

#: What the person types into the teleop smoke run (keep the task's instruction, two motions, done).
TELEOP_INPUT = "\nraise the arm 5 cm\nmove left a bit\ndone\n"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.S | re.M)


def readme_commands() -> list[str]:
    """Every shell command of the README, continuation lines joined, comments dropped, in order."""
    seen: list[str] = []
    for block in code_blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            command = " ".join(shlex.split(line, comments=True))
            if command and command not in seen:
                seen.append(command)
    return seen


def with_flags(argv: list[str], flags: dict[str, list[str]]) -> list[str]:
    """``argv`` with each flag in ``flags`` (and the values after it) replaced in place, or appended."""
    out = list(argv)
    for flag, values in flags.items():
        for i, token in enumerate(out):
            if token == flag or token.startswith(flag + "="):
                end = i + 1
                if token == flag:
                    while end < len(out) and not out[end].startswith("-"):
                        end += 1
                out[i:end] = [flag, *values]
                break
        else:
            out += [flag, *values]
    return out


def executable(argv: list[str]) -> list[str]:
    """The venv's own programs, as an activated venv would find them."""
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    return [str(BIN / argv[0]), *argv[1:]]


def user_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(MUJOCO_GL=env.get("MUJOCO_GL", "egl"), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(argv: list[str], cwd: Path, stdin: str | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    env = user_env()
    if argv[1:3] == ["-m", "benchmarks"] or (len(argv) > 2 and argv[2].startswith("benchmarks.")):
        env["PYTHONPATH"] = str(ROOT)  # the performance scripts run from a clone, as the README says
    return subprocess.run(argv, cwd=cwd, env=env, input=stdin or "", capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory) -> Path:
    """A new user's empty working directory, shared by the README's commands in order."""
    return tmp_path_factory.mktemp("readme-user")


@pytest.fixture(scope="module")
def ran(user_dir) -> dict[str, subprocess.CompletedProcess]:
    """Run every README command that is not ``make``/``pip`` in smoke form, in README order."""
    results = {}
    for command in readme_commands():
        if command.startswith(NOT_RUN_HERE):
            continue
        argv = with_flags(shlex.split(command), SMOKE[command])
        stdin = TELEOP_INPUT if argv[:2] in (["cliprt", "teleop"], ["cliprt", "run"]) else None
        results[command] = run(executable(argv), user_dir, stdin)
    return results


def test_make_demo_smoke_from_a_fresh_directory(user_dir):
    """``make demo SMOKE=1``, typed in a directory of the user's own; the results land there.

    Its results go to ``runs/demo-smoke/`` (the smoke mode's own default), in
    the directory the README's commands then share.
    """
    venv = Path(sys.prefix)
    argv = ["make", "-f", str(ROOT / "Makefile"), "-o", f"{venv}/.installed", "demo", "SMOKE=1", f"VENV={venv}"]
    result = run(argv, user_dir, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    table = (user_dir / "runs/demo-smoke/bench/results.md").read_text()
    assert "clip-rt" in table.lower() and "expert" in table


def test_every_readme_command_has_a_smoke_form():
    commands = [c for c in readme_commands() if not c.startswith(NOT_RUN_HERE)]
    assert set(commands) == set(SMOKE), "update SMOKE with the README's commands"
    for command in commands:  # smoke forms shrink the work, never where it goes
        assert "--out" not in SMOKE[command] and "--data" not in SMOKE[command]
    ddp = next(c for c in commands if c.startswith("torchrun"))
    argv = with_flags(shlex.split(ddp), SMOKE[ddp])
    assert argv.index("--nproc_per_node") < argv.index("-m")  # torchrun's own flag stays before the module


def test_readme_commands_run_from_a_fresh_directory(ran, user_dir):
    failed = {c: (r.returncode, r.stderr[-2000:]) for c, r in ran.items() if r.returncode != 0}
    assert not failed
    # what the commands left behind, at the README's relative paths
    for path in ("runs/pick-v0", "runs/pick-teleop-v0", "runs/pick-sta-v0"):  # datasets
        assert (user_dir / path / "cliprt_manifest.json").exists(), path
    for path in ("runs/corpus", "runs/corpus-dagger"):  # pretraining corpora, the second driven by runs/pretrain
        assert (user_dir / path / "corpus.json").exists(), path
    for path in ("runs/clip-rt", "runs/toy", "runs/clip-rt-sim", "runs/clip-rt-ddp", "runs/pretrain"):  # CLIP-RT runs
        assert (user_dir / path / "model").is_dir(), path
    for path in ("runs/bc", "runs/ppo"):  # baselines
        assert any((user_dir / path).iterdir()), path
    assert (user_dir / "runs/bench/results.md").exists() and (user_dir / "runs/demo/bench/results.md").exists()
    bench = ran[next(c for c in ran if "--agent clip-rt=runs/clip-rt" in c)].stdout
    assert "clip-rt" in bench and "expert" in bench and "random" in bench


def test_readme_commands_needing_the_network_fail_fast_and_clearly(user_dir, ran):
    for command in NEEDS_NETWORK:
        out = user_dir / "offline-attempt"
        argv = with_flags(shlex.split(command), {"--out": [str(out)]})
        result = run(executable(argv), user_dir, timeout=120)
        assert result.returncode == 2, result.stderr[-2000:]
        assert "Traceback" not in result.stderr and "--pretrained" in result.stderr
        assert result.stderr.count("error:") == 1
        assert not out.exists()  # a failed command leaves nothing behind


@pytest.mark.parametrize("index", range(len(code_blocks("python"))))
def test_readme_python_blocks_run(index, user_dir, ran):
    block = code_blocks("python")[index]
    result = run([sys.executable, "-c", block], user_dir, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr


def test_readme_s3d_command_without_the_weight_files_fails_fast_and_says_where_to_get_them(user_dir, ran):
    out = user_dir / "s3d-attempt"
    argv = with_flags(shlex.split(S3D_COMMAND), {"--out": [str(out)]})
    result = run(executable(argv), user_dir, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and result.stderr.count("error:") == 1
    assert "s3d_howto100m.pth" in result.stderr and "https://" in result.stderr
    assert not out.exists()
