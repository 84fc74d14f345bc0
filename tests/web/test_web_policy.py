"""A running policy in the browser: its top motions with scores, one step, a correction in words, auto-run."""

from __future__ import annotations

import time

import pytest

from cliprt_data.storage import check_dataset

from .conftest import ServedSession
from .test_web_teleop import chat_lines, open_page, say, steps, texts, wait_for

pytestmark = pytest.mark.timeout(240)


def shipped_policy():
    from cliprt.demo.pipeline import SHIPPED_CHECKPOINT
    from cliprt_agents.policy import load_policy

    return load_policy(SHIPPED_CHECKPOINT)


def step_kinds(driver) -> list[str]:
    return texts(driver, "#steps li", "className")


def test_watch_step_correct_and_auto_run_a_policy(browser, tmp_path):
    pytest.importorskip("torch")
    served = ServedSession(tmp_path / "web-run-v0", agent_factory=shipped_policy).start()
    try:
        open_page(browser, served)
        assert browser.find_element("id", "policy").is_displayed()
        proposal = wait_for(lambda: texts(browser, "#proposal li"), what="the top motions")
        assert len(proposal) == 3 and all(p.endswith(")") for p in proposal)

        browser.find_element("id", "policy-step").click()
        wait_for(lambda: step_kinds(browser) == ["policy"], what="the policy's step")

        say(browser, "move right a bit")  # a correction: shown first, then it overrides this step
        wait_for(lambda: browser.find_element("id", "confirm").is_displayed(), what="the translation")
        time.sleep(0.2)
        assert served.recorder.episode_steps == 1
        browser.find_element("id", "confirm").click()
        wait_for(lambda: step_kinds(browser) == ["policy", "teleop"], what="the corrected step")
        assert "right" in steps(browser)[1]
        wait_for(lambda: any("the policy wanted" in line for line in chat_lines(browser)), what="the correction's log")

        browser.find_element("id", "auto").click()  # auto-run: the policy keeps acting until unticked
        wait_for(lambda: len(steps(browser)) >= 4, what="auto-run steps")
        browser.find_element("id", "auto").click()
        time.sleep(0.5)
        settled = len(steps(browser))
        time.sleep(0.5)
        assert len(steps(browser)) == settled  # stopped
        browser.find_element("id", "done").click()
        wait_for(lambda: browser.find_element("id", "episodes-saved").text == "1", what="the saved episode")
    finally:
        served.stop()
    [entry] = check_dataset(served.out).episodes
    [correction] = entry["corrections"]
    assert correction["utterance"] == "move right a bit" and correction["step"] == 1
    assert correction["wanted_id"] >= 0 and "right" in correction["motion_text"]
