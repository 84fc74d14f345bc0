"""The web app in a real browser (headless Chromium + Selenium): teleoperation, questions, undo, closing tabs."""

from __future__ import annotations

import time

import pytest

from cliprt_data.storage import check_dataset

from .conftest import ServedSession

pytestmark = pytest.mark.timeout(240)


def wait_for(condition, timeout=20.0, what="the page"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def frame_id(driver) -> int:
    return int(driver.find_element("id", "frame-camera").get_attribute("data-frame") or 0)


def texts(driver, selector: str, what: str = "textContent") -> list[str]:
    """One read of a list the page redraws (element handles would go stale between reads)."""
    script = "return Array.from(document.querySelectorAll(arguments[0])).map((e) => String(e[arguments[1]]));"
    return driver.execute_script(script, selector, what)


def steps(driver) -> list[str]:
    return [
        m
        for m in driver.execute_script("return Array.from(document.querySelectorAll('#steps li')).map((e) => e.dataset.motion);")
    ]


def say(driver, text: str) -> None:
    box = driver.find_element("id", "say-input")
    box.clear()
    box.send_keys(text)
    driver.find_element("id", "say-button").click()


def chat_lines(driver) -> list[str]:
    return texts(driver, "#chat div")


def open_page(driver, served: ServedSession) -> None:
    driver.get(served.app.url)
    wait_for(lambda: driver.find_elements("id", "frame-camera") and frame_id(driver) > 0, what="the first camera frame")
    assert driver.find_element("id", "instruction").text.strip() not in ("", "-")


def test_say_confirm_question_undo_success_and_a_closed_tab_keeps_the_saved_episode(browser, tmp_path):
    served = ServedSession(tmp_path / "web-teleop-v0").start()
    try:
        open_page(browser, served)
        assert browser.find_element("id", "frame-scene").get_attribute("src").startswith("data:image/png;base64,")
        first = frame_id(browser)

        say(browser, "move left a bit")  # the translation is shown; nothing moves before confirm
        motion = browser.find_element("id", "translation-motion")
        wait_for(lambda: motion.is_displayed() and "left" in motion.text, what="the translation")
        time.sleep(0.3)
        assert frame_id(browser) == first and steps(browser) == [] and served.recorder.episode_steps == 0
        browser.find_element("id", "confirm").click()
        wait_for(lambda: frame_id(browser) > first and len(steps(browser)) == 1, what="the new frame and the step")
        assert "left" in steps(browser)[0] and served.recorder.episode_steps == 1

        before = frame_id(browser)
        say(browser, "do the thing")  # unclear: a question, and nothing moves
        wait_for(lambda: any(line.startswith("robot: ?") for line in chat_lines(browser)), what="the question")
        assert not browser.find_element("id", "confirm").is_displayed()
        time.sleep(0.3)
        assert served.recorder.episode_steps == 1 and len(steps(browser)) == 1

        browser.find_element("id", "undo").click()  # back to step 0: a new frame of the restored scene
        wait_for(lambda: frame_id(browser) > before and steps(browser) == [], what="the undo")
        assert served.recorder.episode_steps == 0 and browser.find_element("id", "step").text == "0"

        say(browser, "lower the arm by 5 centimeters")
        wait_for(lambda: browser.find_element("id", "confirm").is_displayed(), what="the second translation")
        browser.find_element("id", "confirm").click()
        wait_for(lambda: len(steps(browser)) == 1, what="the second step")
        browser.find_element("id", "success").click()  # saved at once, as its own file
        wait_for(lambda: browser.find_element("id", "episodes-saved").text == "1", what="the saved episode")
        assert check_dataset(served.out).total_episodes == 1

        say(browser, "raise the arm a lot")  # episode 2, in progress when the tab goes away
        wait_for(lambda: browser.find_element("id", "confirm").is_displayed(), what="the third translation")
        browser.find_element("id", "confirm").click()
        wait_for(lambda: len(steps(browser)) == 1 and browser.find_element("id", "episode").text == "2", what="step 1 of 2")

        first_tab = browser.current_window_handle
        browser.switch_to.new_window("tab")
        second_tab = browser.current_window_handle
        browser.switch_to.window(first_tab)
        browser.close()  # the tab with the live socket closes mid-episode
        browser.switch_to.window(second_tab)
        open_page(browser, served)  # a new tab continues where the last left off
        assert browser.find_element("id", "episode").text == "2" and len(steps(browser)) == 1
    finally:
        served.stop()  # the server goes away mid-episode
    info = check_dataset(served.out)
    assert info.total_episodes == 1
    entry = info.episodes[0]
    assert entry["steps"] == 1 and entry["success"] is True
