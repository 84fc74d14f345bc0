"""The browser app for language teleoperation and corrections (``cliprt teleop --web``, ``cliprt run ... --web``).

A local page (FastAPI + websockets, served by uvicorn, bound to 127.0.0.1 by
default; any other address needs the token printed at start) shows the live
camera views, the instruction, a chat box whose every utterance goes through
the translator and is shown before anything moves (confirm or cancel), undo,
success, done and discard, the episode's steps and, for a running policy, its
top motions with scores. The session behind it is the terminal's own
(:class:`~cliprt_data.teleop.session.TeleopSession`,
:class:`~cliprt_data.teleop.corrections.CorrectionSession`) with a
:class:`~cliprt_data.teleop.web.bridge.WebUser` in place of the console, so it
records through the same recorder: every finished episode is on disk when it
ends, whatever happens to the browser or the server afterwards.

Modules: :mod:`~cliprt_data.teleop.web.server` (uvicorn in a thread, tokens),
:mod:`~cliprt_data.teleop.web.bridge` (session <-> browsers),
:mod:`~cliprt_data.teleop.web.app` (the FastAPI app), ``static/`` (the page).
FastAPI and uvicorn load only when a server is made (the ``web`` extra).
"""

from __future__ import annotations

from cliprt_data._util import lazy_exports

#: name -> the module that defines it; loaded on first use (the CLI reads only the server's defaults).
_EXPORTS = {
    "WebApp": "cliprt_data.teleop.web.app",
    "WebConfig": "cliprt_data.teleop.web.app",
    "run_episodes": "cliprt_data.teleop.web.app",
    "session_frames": "cliprt_data.teleop.web.app",
    "Hub": "cliprt_data.teleop.web.bridge",
    "WebUser": "cliprt_data.teleop.web.bridge",
    "DEFAULT_HOST": "cliprt_data.teleop.web.server",
    "DEFAULT_PORT": "cliprt_data.teleop.web.server",
    "BackgroundServer": "cliprt_data.teleop.web.server",
    "is_loopback": "cliprt_data.teleop.web.server",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
