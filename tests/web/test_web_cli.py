"""``cliprt teleop --web`` and ``cliprt run --web`` as commands: the printed address and token, Ctrl-C keeps saved episodes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cliprt_data.storage import check_dataset

from .conftest import PICK

pytestmark = pytest.mark.timeout(180)


def start(args: list[str]) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cliprt.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        # Ctrl-C must reach it as at a terminal, also when these tests run in a background job (SIGINT ignored there)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen.append(line)
        match = re.search(r"open (http://\S+) in a browser", line)
        if match:
            return proc, match.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("no address printed:\n" + "".join(seen))


def messages_until(ws, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=timeout))
        if predicate(message):
            return message
    raise AssertionError("the expected message did not come")


def test_teleop_web_on_all_addresses_prints_a_token_and_ctrl_c_keeps_the_saved_episode(tmp_path: Path):
    from websockets.sync.client import connect

    out = tmp_path / "cli-web-v0"
    args = ["teleop", "--web", "--host", "0.0.0.0", "--port", "0", "--env", PICK, "--image-size", "48", "--out", str(out)]
    proc, url = start(args)
    try:
        token = re.search(r"\?token=(\S+)", url).group(1)
        port = re.search(r":(\d+)/", url).group(1)
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 401
        with connect(f"ws://127.0.0.1:{port}/ws?token={token}") as ws:
            messages_until(ws, lambda m: m.get("awaiting") == "supervision")
            ws.send(json.dumps({"type": "say", "text": "raise the arm a bit"}))
            translation = messages_until(ws, lambda m: m.get("type") == "translation")
            assert translation["ok"] and "raise" in translation["motion"]
            ws.send(json.dumps({"type": "confirm"}))
            messages_until(ws, lambda m: m.get("type") == "state" and m.get("step") == 1)
            ws.send(json.dumps({"type": "command", "name": "success"}))
            messages_until(ws, lambda m: m.get("type") == "state" and m.get("episodes_saved") == 1)
            ws.send(json.dumps({"type": "say", "text": "move left a bit"}))  # episode 2, never confirmed
            messages_until(ws, lambda m: m.get("type") == "translation")
        proc.send_signal(signal.SIGINT)  # the server goes away mid-episode
        assert proc.wait(60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    info = check_dataset(out)
    assert info.total_episodes == 1 and info.episodes[0]["success"] and info.episodes[0]["steps"] == 1


def test_run_web_lets_the_policy_act_and_takes_a_correction(tmp_path: Path):
    from websockets.sync.client import connect

    out = tmp_path / "cli-run-v0"
    args = ["run", "--web", "--port", "0", "--policy", "expert", "--env", PICK, "--image-size", "48", "--out", str(out)]
    proc, url = start(args)
    try:
        assert "token" not in url  # loopback: no token
        with connect(url.replace("http://", "ws://").rstrip("/") + "/ws") as ws:
            messages_until(ws, lambda m: m.get("awaiting") == "supervision" and m.get("mode") == "policy")
            ws.send(json.dumps({"type": "step"}))
            messages_until(ws, lambda m: m.get("type") == "state" and m.get("step") == 1)
            ws.send(json.dumps({"type": "say", "text": "close the gripper"}))
            messages_until(ws, lambda m: m.get("type") == "translation")
            ws.send(json.dumps({"type": "confirm"}))
            state = messages_until(ws, lambda m: m.get("type") == "state" and m.get("step") == 2)
            assert [s["kind"] for s in state["steps"]] == ["policy", "teleop"]
            ws.send(json.dumps({"type": "command", "name": "done"}))
            messages_until(ws, lambda m: m.get("awaiting") == "finished")
        assert proc.wait(60) == 0  # one episode asked for: the command ends by itself
    finally:
        if proc.poll() is None:
            proc.kill()
    [entry] = check_dataset(out).episodes
    [correction] = entry["corrections"]
    assert correction["motion_text"] == "close the gripper" and correction["wanted_id"] >= 0
