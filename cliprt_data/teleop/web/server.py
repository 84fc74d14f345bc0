"""Serving an ASGI app with uvicorn in a background thread, and the access token for non-loopback addresses."""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time
from typing import Any

#: Where the web app listens unless told otherwise: this machine only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
_INSTALL_HINT = 'the web app needs FastAPI, uvicorn and websockets: pip install "cliprt[web]"'


def require_web() -> None:
    """Raise ImportError naming the extra when the web libraries are missing."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
        import websockets  # noqa: F401
    except ImportError as exc:
        from cliprt_envs.errors import MissingExtraError

        raise MissingExtraError(f"{_INSTALL_HINT} ({exc})") from exc


def is_loopback(host: str) -> bool:
    """True when ``host`` can only be reached from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def access_token(host: str, token: str | None = None) -> str | None:
    """The token a client must present: None on loopback (unless one is given), a fresh random one otherwise."""
    if token:
        return token
    return None if is_loopback(host) else secrets.token_urlsafe(24)


def token_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time check of a presented token (always true when none is required)."""
    if expected is None:
        return True
    return given is not None and secrets.compare_digest(expected.encode(), given.encode())


class BackgroundServer:
    """``uvicorn`` serving ``app`` from a daemon thread; ``port=0`` picks a free port (see :attr:`port`)."""

    def __init__(self, app: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, log_level: str = "warning") -> None:
        require_web()
        import uvicorn

        if not 0 <= int(port) <= 65535:
            raise ValueError(f"--port must be in 0..65535 (0: any free port), got {port}")
        self.host = host
        self._port = int(port)
        config = uvicorn.Config(app, host=host, port=int(port), log_level=log_level, lifespan="off", ws="websockets-sansio")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="cliprt-web", daemon=True)

    def start(self, timeout_s: float = 20.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise ValueError(f"cannot listen on {self.host}:{self._port}; is the port in use? try another --port")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not start within {timeout_s:g} s")
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        """The port actually bound (the chosen one when started with port 0)."""
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    def url(self, host: str | None = None) -> str:
        shown = host or ("127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host)
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{self.port}"

    def stop(self, timeout_s: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
