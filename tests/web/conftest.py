"""Fixtures for the web app's tests: a real headless Chromium (Debian's) and a session served in a thread."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
PICK = "CLIPRT-UR5Sim-Pick-v0"
SMALL = 64


def _missing_browser() -> str | None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        return (
            f"the browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} missing): "
            "run `make sysdeps` (or apt-get install chromium chromium-driver)"
        )
    return None


@pytest.fixture
def browser(tmp_path) -> Iterator[Any]:
    """A fresh headless Chromium driven by Selenium; fails (never skips) when it is not installed."""
    problem = _missing_browser()
    if problem:
        pytest.fail(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


class ServedSession:
    """A teleop or correction session whose env, recorder and loop live in one thread (EGL contexts are per thread)."""

    def __init__(self, out: Path, *, agent_factory: Callable[[], Any] | None = None, episodes: int = 5) -> None:
        from cliprt_data.teleop.web import Hub, WebApp, WebConfig, WebUser

        self.out = out
        self.episodes = episodes
        self.agent_factory = agent_factory
        self.user = WebUser(Hub(), mode="teleop" if agent_factory is None else "policy", saved=self._saved)
        self.app = WebApp(self.user, WebConfig(port=0))
        self.recorder: Any = None
        self.outcomes: list = []
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _saved(self) -> int:
        return 0 if self.recorder is None else self.recorder.writer.total_episodes

    def _run(self) -> None:
        import gymnasium as gym

        import cliprt_envs  # noqa: F401
        from cliprt_data.recorder import DatasetRecorder, RecorderConfig
        from cliprt_data.storage import StorageConfig
        from cliprt_data.teleop.corrections import CorrectionSession
        from cliprt_data.teleop.session import TeleopConfig, TeleopSession
        from cliprt_data.teleop.web import run_episodes, session_frames
        from cliprt_data.translate import RuleTranslator

        try:
            env = gym.make(PICK, image_size=SMALL, render_mode="rgb_array", render_size=128)
            source = "teleop" if self.agent_factory is None else "policy"
            config = RecorderConfig(storage=StorageConfig(jpeg=False), source=source, step_kind=source, save_on_reset=False)
            self.recorder = DatasetRecorder(env, self.out, config=config)
            self.user._frames = session_frames(env)
            translator = RuleTranslator(self.recorder.vocabulary)
            if self.agent_factory is None:
                session = TeleopSession(self.recorder, translator, self.user, TeleopConfig())
            else:
                session = CorrectionSession(self.recorder, translator, self.user, self.agent_factory())
            self.ready.set()
            self.outcomes = run_episodes(session, self.user, self.episodes)
        except BaseException as exc:  # reported by the test
            self.error = exc
            self.ready.set()
        finally:
            if self.recorder is not None:
                self.recorder.close()  # in this thread: the renderer's context belongs to it

    def start(self) -> ServedSession:
        self.app.start()
        self.thread.start()
        assert self.ready.wait(60), "the session did not start"
        if self.error is not None:
            raise self.error
        return self

    def stop(self) -> None:
        """The server goes away, then the session is told to quit (the episode in progress is dropped)."""
        self.app.stop()
        self.user.post({"type": "command", "name": "quit"})
        self.thread.join(30)
        assert not self.thread.is_alive(), "the session did not stop"
        if self.error is not None:
            raise self.error
