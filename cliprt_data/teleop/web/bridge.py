"""The bridge between the session thread and the browsers: :class:`Hub` (session -> browsers) and :class:`WebUser`.

The teleoperation and correction sessions are the same code the terminal uses
(:mod:`cliprt_data.teleop.session`, :mod:`cliprt_data.teleop.corrections`); they
ask a :class:`~cliprt_data.teleop.users.TeleopUser` what to do and wait for the
answer. :class:`WebUser` is that user for the browser: it publishes what the
person should see through the :class:`Hub` and waits for the browser's events
on a queue. Browsers may come and go: the hub keeps the latest state and the
chat, and sends them to every tab that connects, so a closed tab loses nothing
and a new one continues where the last left off.
"""

from __future__ import annotations

import asyncio
import base64
import io
import queue
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from cliprt_data.translate import Translation

#: Chat lines a newly connected tab is sent.
CHAT_HISTORY = 200
#: How often a waiting session looks again at its queue (s); also bounds how fast auto-run steps.
POLL_S = 0.05


def png_data_url(image: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URL of an RGB image."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(np.asarray(image, dtype=np.uint8))).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class Hub:
    """Publishes the session's state to every connected browser; the latest state and the chat survive tabs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[asyncio.Queue, asyncio.AbstractEventLoop] = {}
        self._state: dict[str, Any] = {"type": "state", "awaiting": "start", "steps": [], "frames": {}, "frame_id": 0}
        self._review: dict[str, Any] | None = None
        self._chat: list[dict[str, Any]] = []

    @property
    def state(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)

    def update(self, **values: Any) -> None:
        """Change the state and send it to every browser."""
        with self._lock:
            self._state.update(values)
            if values.get("awaiting") != "review":
                self._review = None
            message = dict(self._state)
        self._send(message)

    def review(self, message: dict[str, Any]) -> None:
        """Show a translation waiting for confirm or cancel (kept for tabs that connect meanwhile)."""
        with self._lock:
            self._review = message
        self._send(message)

    def say(self, who: str, text: str) -> None:
        line = {"type": "chat", "who": who, "text": text}
        with self._lock:
            self._chat = (self._chat + [line])[-CHAT_HISTORY:]
        self._send(line)

    def snapshot(self) -> list[dict[str, Any]]:
        """What a newly connected browser is sent: the chat, the state, and a pending translation."""
        with self._lock:
            out = [{"type": "history", "chat": list(self._chat)}, dict(self._state)]
            return out + ([dict(self._review)] if self._review else [])

    def connect(self, loop: asyncio.AbstractEventLoop) -> asyncio.Queue:
        client: asyncio.Queue = asyncio.Queue()
        with self._lock:
            self._clients[client] = loop
        for message in self.snapshot():
            client.put_nowait(message)
        return client

    def disconnect(self, client: asyncio.Queue) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def _send(self, message: dict[str, Any]) -> None:
        with self._lock:
            clients = list(self._clients.items())
        for client, loop in clients:
            try:
                loop.call_soon_threadsafe(client.put_nowait, message)
            except RuntimeError:  # that tab's loop is closed: it has gone
                self.disconnect(client)


class WebUser:
    """A person in the browser, as a :class:`~cliprt_data.teleop.users.TeleopUser` (and a correcting user).

    Every translation waits for the person's confirm (nothing moves before).
    ``frames(obs)`` gives the pictures to show (name -> RGB image); ``saved()``
    the number of episodes in the dataset.
    """

    def __init__(
        self,
        hub: Hub,
        *,
        mode: str = "teleop",
        frames: Callable[[dict[str, Any]], dict[str, np.ndarray]] | None = None,
        saved: Callable[[], int] | None = None,
    ) -> None:
        self.hub = hub
        self.mode = mode
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.auto = False
        self._frames = frames or (lambda obs: {"camera": obs["image"]})
        self._saved = saved or (lambda: 0)
        self._steps: list[dict[str, Any]] = []
        self._episode = 0
        self._frame_id = 0

    # -- from the server (any thread) ------------------------------------------------------
    def post(self, event: dict[str, Any]) -> None:
        """An event from a browser: say, confirm, cancel, command, step, auto."""
        self.events.put(event)

    # -- TeleopUser ----------------------------------------------------------------------------
    def ask_instruction(self, default: str) -> str:
        self._episode += 1
        self._steps = []
        self.hub.update(mode=self.mode, instruction=default, episode=self._episode, steps=[], step=0)
        return default

    def ask_supervision(self, observation: dict[str, Any], step: int) -> str:
        del self._steps[step:]  # an undone step leaves the list
        self._frame_id += 1
        frames = {name: png_data_url(img) for name, img in self._frames(observation).items()}
        self.hub.update(
            mode=self.mode,
            instruction=str(observation.get("instruction", "")),
            step=step,
            steps=list(self._steps),
            frames=frames,
            frame_id=self._frame_id,
            episodes_saved=self._saved(),
            awaiting="supervision",
            auto=self.auto,
        )
        while True:
            if self.auto and self.events.empty():
                return ""  # auto-run: the policy takes the step
            event = self._next()
            answer = self._answer(event)
            if answer is not None:
                return answer

    def _answer(self, event: dict[str, Any]) -> str | None:
        kind = event.get("type")
        if kind == "say":
            text = str(event.get("text", "")).strip()
            if text:
                self.hub.say("you", text)
                return text
        elif kind == "command":
            return str(event.get("name", ""))
        elif kind == "step" and self.mode == "policy":
            return ""
        elif kind == "auto" and self.mode == "policy":
            self.auto = bool(event.get("on"))
            self.hub.update(auto=self.auto)
            return "" if self.auto else None
        elif kind in ("confirm", "cancel"):
            self.hub.say("robot", "nothing to confirm: say what the arm should do first")
        return None

    def review(self, translation: Translation) -> bool:
        message = {"type": "translation", "ok": translation.ok, "utterance": translation.text}
        message.update(motion=translation.motion_text, message=translation.message)
        if not translation.ok:
            self.hub.review({**message, "awaiting": "supervision"})
            self.hub.say("robot", f"? {translation.message}")
            return False
        self.hub.update(awaiting="review")
        self.hub.review(message)
        event = self._next()
        if event.get("type") == "confirm":
            self.hub.update(awaiting="moving")
            return True
        if event.get("type") != "cancel":
            self.events.put(event)  # something else: the translation is dropped, that event is handled next
        self.hub.say("robot", f"cancelled: {translation.motion_text}")
        self.hub.update(awaiting="supervision")
        return False

    def tell(self, message: str) -> None:
        self.hub.say("robot", message.strip())

    # -- hooks of the sessions ------------------------------------------------------------------
    def show_proposal(self, proposal: list[dict[str, Any]]) -> None:
        self.hub.update(proposal=proposal)

    def step_done(self, step: int, motion_text: str, supervision: str | None, kind: str) -> None:
        self._steps = self._steps[: step - 1] + [{"n": step, "motion": motion_text, "said": supervision or "", "kind": kind}]

    def finish(self, reason: str) -> None:
        self.hub.update(awaiting="finished", episodes_saved=self._saved(), auto=False)
        self.hub.say("robot", reason)

    def _next(self) -> dict[str, Any]:
        while True:
            try:
                return self.events.get(timeout=POLL_S)
            except queue.Empty:
                continue
