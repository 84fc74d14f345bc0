"""The web app: a FastAPI page and websocket over a teleoperation or correction session.

``GET /`` is the page (``static/``), ``/ws`` the websocket that carries the
session's state to the browser (camera views, instruction, steps, the policy's
top motions, translations waiting for confirm) and the person's events back
(say, confirm, cancel, undo/success/done/discard, step, auto-run). Bound to
loopback by default; bound to any other address, both need the token printed
at start (``?token=...``).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the handlers' annotations at run time, and
# ``WebSocket`` is imported inside build_app (FastAPI loads lazily), where a string annotation cannot be resolved.
import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_data.teleop.session import EpisodeOutcome, TeleopSession
from cliprt_data.teleop.web.bridge import Hub, WebUser
from cliprt_data.teleop.web.server import DEFAULT_HOST, DEFAULT_PORT, BackgroundServer, access_token, require_web, token_matches

STATIC_DIR = Path(__file__).resolve().parent / "static"
_DENIED = "a token is required: open the address with ?token=... that `cliprt` printed when it started"


@dataclass(frozen=True)
class WebConfig:
    """Where the app listens. ``token``: required from clients (default: none on loopback, a random one otherwise)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None


def build_app(hub: Hub, user: WebUser, expected: str | None) -> Any:
    """The FastAPI app: the page, its static files and the websocket."""
    require_web()
    from fastapi import FastAPI, WebSocket, WebSocketDisconnect
    from fastapi.responses import HTMLResponse, PlainTextResponse
    from fastapi.staticfiles import StaticFiles

    app = FastAPI(title="cliprt", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", response_model=None)
    def index(token: str | None = None) -> Any:
        if not token_matches(expected, token):
            return PlainTextResponse(_DENIED, status_code=401)
        return HTMLResponse((STATIC_DIR / "index.html").read_text(encoding="utf-8"))

    @app.websocket("/ws")
    async def websocket(ws: WebSocket) -> None:
        if not token_matches(expected, ws.query_params.get("token")):
            await ws.close(code=1008, reason="token required")
            return
        await ws.accept()
        client = hub.connect(asyncio.get_running_loop())
        sender = asyncio.create_task(_pump(ws, client))
        try:
            while True:
                event = await ws.receive_json()
                if isinstance(event, dict):
                    user.post(event)
        except (WebSocketDisconnect, RuntimeError, ValueError):
            pass  # the tab went away (or sent garbage); the session waits for the next one
        finally:
            hub.disconnect(client)
            sender.cancel()

    return app


async def _pump(ws: Any, client: asyncio.Queue) -> None:
    with contextlib.suppress(Exception):  # the tab closed while a message was on its way
        while True:
            await ws.send_json(await client.get())


def session_frames(env: Any) -> Callable[[dict[str, Any]], dict[str, np.ndarray]]:
    """The pictures of a step: the agent's camera, the wrist camera if any, and the env's render for people."""
    render = env.render if getattr(env, "render_mode", None) == "rgb_array" else None

    def frames(obs: dict[str, Any]) -> dict[str, np.ndarray]:
        out = {"camera": np.asarray(obs["image"])}
        if "wrist_image" in obs:
            out["wrist"] = np.asarray(obs["wrist_image"])
        if render is not None:
            view = render()
            if view is not None:
                out["scene"] = np.asarray(view)
        return out

    return frames


class WebApp:
    """The page server for one session's :class:`WebUser`; :attr:`url` is the address to open."""

    def __init__(self, user: WebUser, config: WebConfig = WebConfig()) -> None:
        self.user = user
        self.config = config
        self.token = access_token(config.host, config.token)
        self._server = BackgroundServer(build_app(user.hub, user, self.token), config.host, config.port)
        self.url = ""

    def start(self) -> "WebApp":
        self._server.start()
        self.url = self._server.url() + "/" + (f"?token={self.token}" if self.token else "")
        return self

    @property
    def port(self) -> int:
        return self._server.port

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "WebApp":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_episodes(session: TeleopSession, user: WebUser, episodes: int, seed: int = 0) -> list[EpisodeOutcome]:
    """Run up to ``episodes`` episodes of ``session`` (stops at quit); the page then says it has finished.

    Every finished episode is on disk as soon as it ends; an episode in progress
    when this is interrupted (Ctrl-C, the server stopping) is dropped, never half-written.
    """
    outcomes: list[EpisodeOutcome] = []
    for k in range(episodes):
        outcome = session.run_episode(seed=seed + k)
        outcomes.append(outcome)
        if outcome.quit:
            break
    saved = sum(o.saved for o in outcomes)
    user.finish(f"finished: {saved} episode(s) saved; you may close this page")
    return outcomes
