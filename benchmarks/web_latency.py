"""The web app's latency in a real browser (headless Chromium): page load, utterance -> translation, confirm -> new frame.

Serves a teleoperation session (Pick, the agent's image at --image-size plus a
256 px people's view) on loopback, opens it in Debian's headless Chromium via
Selenium, and times in the page itself (``performance.now()``, resolved when the
page has drawn the answer): a fresh page load until the first camera frame, the
round trip from "Say" to the translation shown, and from "Confirm" to the new
frame (env step, render, PNG encoding, websocket, drawing). Prints medians and
the range over --steps steps.

    python -m benchmarks.web_latency --steps 20
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROUND_TRIP_JS = """
const [buttonId, kind, done] = [arguments[0], arguments[1], arguments[arguments.length - 1]];
const frame = () => Number(document.getElementById('frame-camera').dataset.frame);
const before = frame();
const t0 = performance.now();
const check = () => {
  const shown = kind === 'frame' ? frame() > before
    : !document.getElementById('translation').hidden && document.getElementById('translation-motion').textContent;
  if (shown) { done(performance.now() - t0); } else { requestAnimationFrame(check); }
};
if (kind === 'translation') {
  document.getElementById('say-input').value = arguments[2];
  document.getElementById('say-form').requestSubmit();
} else { document.getElementById(buttonId).click(); }
requestAnimationFrame(check);
"""
PHRASES = ("move left a bit", "move right a bit")


def chromium(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
    for flag in (*flags.split(), "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def serve(out: Path, image_size: int):
    """A teleop session on loopback, run in a thread that owns the env (EGL contexts are per thread)."""
    import gymnasium as gym

    import cliprt_envs  # noqa: F401
    from cliprt_data.recorder import DatasetRecorder, RecorderConfig
    from cliprt_data.teleop.session import TeleopConfig, TeleopSession
    from cliprt_data.teleop.web import Hub, WebApp, WebConfig, WebUser, run_episodes, session_frames
    from cliprt_data.translate import RuleTranslator

    user = WebUser(Hub())
    app = WebApp(user, WebConfig(port=0)).start()
    ready = threading.Event()

    def run() -> None:
        env = gym.make("CLIPRT-UR5Sim-Pick-v0", image_size=image_size, render_mode="rgb_array", render_size=256)
        rec = DatasetRecorder(env, out, config=RecorderConfig(source="teleop", step_kind="teleop", save_on_reset=False))
        user._frames = session_frames(env)
        ready.set()
        try:
            run_episodes(TeleopSession(rec, RuleTranslator(rec.vocabulary), user, TeleopConfig()), user, 1000)
        finally:
            rec.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(60)
    return app, user, thread


def summary(name: str, values: list[float]) -> str:
    spread = f"min {min(values):.1f}, max {max(values):.1f}, n={len(values)}"
    return f"{name:<36} median {statistics.median(values):7.1f} ms  ({spread})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="confirmed steps to time")
    parser.add_argument("--loads", type=int, default=5, help="page loads to time")
    parser.add_argument("--image-size", type=int, default=64, help="the agent's camera image (the people's view is 256 px)")
    args = parser.parse_args()
    with TemporaryDirectory() as tmp:
        app, user, thread = serve(Path(tmp) / "latency-v0", args.image_size)
        driver = chromium(Path(tmp) / "profile")
        driver.set_script_timeout(30)
        try:
            loads = []
            for _ in range(args.loads):
                start = time.perf_counter()
                driver.get(app.url)
                while not driver.execute_script("const f = document.getElementById('frame-camera'); return f && f.complete;"):
                    time.sleep(0.005)
                loads.append(1000 * (time.perf_counter() - start))
            translations, frames = [], []
            for k in range(args.steps):
                translations.append(driver.execute_async_script(ROUND_TRIP_JS, "say-button", "translation", PHRASES[k % 2]))
                frames.append(driver.execute_async_script(ROUND_TRIP_JS, "confirm", "frame"))
        finally:
            driver.quit()
            user.post({"type": "command", "name": "quit"})
            thread.join(30)
            app.stop()
    print(summary("page load -> first frame", loads))
    print(summary("say -> translation shown", translations))
    print(summary("confirm -> new frame shown (a step)", frames))


if __name__ == "__main__":
    main()
