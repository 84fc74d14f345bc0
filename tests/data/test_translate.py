"""Translators: a table of phrasings for the offline rules, and the LLM translator against a fake local server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from cliprt_data.translate import (
    LLMConfig,
    LLMTranslator,
    RuleTranslator,
    RuleTranslatorConfig,
    Translation,
    make_translator,
    validated,
)
from cliprt_data.translate.lexicon import canonical as _canonical
from cliprt_envs.motions import Vocabulary, default_vocabulary, paraphrases

V = default_vocabulary()

# (what a person says, the motion it must become; None = ask again, never move)
TABLE: list[tuple[str, str | None]] = [
    # directions and vague amounts
    ("move left a lot", "move the arm to the left by 20 centimeters"),
    ("a bit lower", "lower the arm by 5 centimeters"),
    ("go right slightly", "move the arm to the right by 1 centimeter"),
    ("slightly to the right", "move the arm to the right by 1 centimeter"),
    ("move forward a fair amount", "move the arm forward by 10 centimeters"),
    ("retract the arm a little", "move the arm back by 5 centimeters"),
    ("pull the arm back a lot", "move the arm back by 20 centimeters"),
    ("raise the arm a tiny bit", "raise the arm up by 1 centimeter"),
    ("a tad higher", "raise the arm up by 1 centimeter"),
    ("much lower", "lower the arm by 20 centimeters"),
    ("descend a fair amount", "lower the arm by 10 centimeters"),
    ("toward the base a lot", "move the arm back by 20 centimeters"),
    ("move away from the base slightly", "move the arm forward by 1 centimeter"),
    ("move it a little more to the left", "move the arm to the left by 5 centimeters"),
    ("lower the gripper a bit", "lower the arm by 5 centimeters"),
    ("pick it up a lot", "raise the arm up by 20 centimeters"),
    ("MOVE LEFT A LOT!!!", "move the arm to the left by 20 centimeters"),
    ("move left a lot, please", "move the arm to the left by 20 centimeters"),
    ("quite a bit further forward", "move the arm forward by 10 centimeters"),
    ("just a little to the left", "move the arm to the left by 1 centimeter"),
    # canonical texts and punctuation
    ("move the arm to the left by 5 centimeters", "move the arm to the left by 5 centimeters"),
    ("Move the arm forward by 10 centimeters.", "move the arm forward by 10 centimeters"),
    # numbers, units and number words -> nearest magnitude
    ("lift up 7 cm", "raise the arm up by 5 centimeters"),
    ("move the arm 3 cm to the right", "move the arm to the right by 1 centimeter"),
    ("move left 4 cm", "move the arm to the left by 5 centimeters"),
    ("move left 8cm", "move the arm to the left by 10 centimeters"),
    ("go down 16 centimeters", "lower the arm by 20 centimeters"),
    ("go down fifteen centimeters", "lower the arm by 10 centimeters"),
    ("five centimeters forward please", "move the arm forward by 5 centimeters"),
    ("could you move the arm twenty centimetres to the left", "move the arm to the left by 20 centimeters"),
    ("move right half a centimeter", "move the arm to the right by 1 centimeter"),
    ("raise 2.5 cm", "raise the arm up by 1 centimeter"),
    ("move forward 1 meter", "move the arm forward by 20 centimeters"),
    ("move back 50 mm", "move the arm back by 5 centimeters"),
    ("move back two inches", "move the arm back by 5 centimeters"),
    ("go back 10cm", "move the arm back by 10 centimeters"),
    ("drop the arm 5 cm", "lower the arm by 5 centimeters"),
    ("move up one and a half centimeters", "raise the arm up by 1 centimeter"),
    ("move left by a centimeter", "move the arm to the left by 1 centimeter"),
    ("go left by 5", "move the arm to the left by 5 centimeters"),
    ("slide left by ten centimeters", "move the arm to the left by 10 centimeters"),
    ("higher by 20", "raise the arm up by 20 centimeters"),
    ("go up twenty five centimeters", "raise the arm up by 20 centimeters"),
    # typos
    ("move rihgt a lot", "move the arm to the right by 20 centimeters"),
    ("lfet a little", "move the arm to the left by 5 centimeters"),
    ("move forwrad 5 cm", "move the arm forward by 5 centimeters"),
    # rotations
    ("rotate the gripper 15 degrees clockwise", "rotate the gripper 15 degrees clockwise"),
    ("rotate the gripper 20 degrees counter-clockwise", "rotate the gripper 15 degrees counterclockwise"),
    ("twist the gripper 90° anticlockwise", "rotate the gripper 90 degrees counterclockwise"),
    ("turn the gripper clockwise a lot", "rotate the gripper 90 degrees clockwise"),
    ("spin the gripper ccw slightly", "rotate the gripper 5 degrees counterclockwise"),
    ("rotate gripper 15 deg cw", "rotate the gripper 15 degrees clockwise"),
    ("tilt the arm up slightly", "tilt arm up 5 degrees"),
    ("tilt down 45 degrees", "tilt arm down 45 degrees"),
    ("pitch the arm down a bit", "tilt arm down 15 degrees"),
    ("tilt the gripper up a lot", "tilt arm up 90 degrees"),
    ("roll the wrist right a bit", "roll arm 15 degrees clockwise"),
    ("roll left a quarter turn", "roll arm 90 degrees counterclockwise"),
    ("yaw left a quarter turn", "yaw arm 90 degrees counterclockwise"),
    ("yaw the arm clockwise by 0.26 rad", "yaw arm 15 degrees clockwise"),
    ("turn the arm to the left 45 degrees", "yaw arm 45 degrees counterclockwise"),
    ("roll the arm cw 100 degrees", "roll arm 90 degrees clockwise"),
    # gripper
    ("close the gripper", "close the gripper"),
    ("open the gripper", "open the gripper"),
    ("let go", "open the gripper"),
    ("drop it", "open the gripper"),
    ("grab it", "close the gripper"),
    ("grasp the cube", "close the gripper"),
    ("release the block", "open the gripper"),
    ("shut the gripper", "close the gripper"),
    ("Close the hand.", "close the gripper"),
    ("open the fingers", "open the gripper"),
    # unclear or invalid: ask again, never move
    ("", None),
    ("   ", None),
    ("move left", None),
    ("turn clockwise", None),
    ("move left and down a bit", None),
    ("grab it and lift", None),
    ("don't move", None),
    ("don’t go left a lot", None),
    ("move left 15 degrees", None),
    ("rotate the gripper 5 cm", None),
    ("open and close the gripper", None),
    ("hello robot", None),
    ("move left 0 cm", None),
    ("move left 5 cm and 10 cm", None),
    ("roll clockwise and counterclockwise a bit", None),
    ("do the thing", None),
    ("stop", None),
]


@pytest.fixture(scope="module")
def rules() -> RuleTranslator:
    return RuleTranslator(V)


def test_table_is_big_enough():
    assert len(TABLE) >= 60
    assert sum(expected is None for _, expected in TABLE) >= 12
    for _, expected in TABLE:
        assert expected is None or expected in V


@pytest.mark.parametrize(("phrase", "expected"), TABLE, ids=[p or "<empty>" for p, _ in TABLE])
def test_offline_translator_table(rules, phrase, expected):
    t = rules.translate(phrase)
    if expected is None:
        assert not t.ok, f"{phrase!r} should ask again, got {t.motion_text!r}"
        assert t.motion_id is None and t.message  # the person learns why
    else:
        assert t.ok, f"{phrase!r}: {t.message}"
        assert t.motion_text == expected and V.text(t.motion_id) == expected


def test_every_paraphrase_parses_without_the_lookup_table(rules):
    """The parser alone (no exact-phrase shortcut) understands every paraphrase we wrote."""
    for motion in V:
        for phrase in paraphrases(V, motion.id):
            got = validated(rules._parse(phrase, _canonical(phrase)), V)
            assert got.motion_id == motion.id, (phrase, got.message)


def test_rounding_is_explained(rules):
    t = rules.translate("move the arm 3 cm to the right")
    assert "3 cm -> 1 cm" in t.message
    assert "largest" in rules.translate("move forward 1 meter").message


def test_default_amount_option():
    assert not RuleTranslator(V).translate("move left").ok
    t = RuleTranslator(V, RuleTranslatorConfig(default_amount=1)).translate("move left")
    assert t.motion_text == "move the arm to the left by 5 centimeters"
    with pytest.raises(ValueError):
        RuleTranslatorConfig(default_amount=7)


def test_any_vocabulary_nearest_magnitude():
    vocab = Vocabulary.build(
        position_magnitudes=(0.02, 0.04), rotation_magnitudes_deg=(10.0,), axes=("x", "y", "z", "yaw"), gripper=False
    )
    t = RuleTranslator(vocab)
    assert t.translate("move left 3 cm").motion_text == "move the arm to the left by 2 centimeters"  # right-inclusive midpoint
    assert t.translate("move left 3.1 cm").motion_text == "move the arm to the left by 4 centimeters"
    assert t.translate("move left a lot").motion_text == "move the arm to the left by 4 centimeters"
    assert t.translate("move left slightly").motion_text == "move the arm to the left by 2 centimeters"
    assert t.translate("yaw left 30 degrees").motion_text == "yaw arm 10 degrees counterclockwise"
    assert "no roll" in t.translate("roll left a bit").message
    assert "no gripper" in t.translate("close the gripper").message


def test_validation_is_the_last_gate():
    assert not validated(Translation("x", 999), V).ok
    assert not validated(Translation("x", True), V).ok  # type: ignore[arg-type]
    assert not validated(Translation("x", 3, "close the gripper"), V).ok  # id and text disagree
    ok = validated(Translation("x", 56, None), V)
    assert ok.ok and ok.motion_text == "close the gripper"
    assert validated(Translation("x"), V).message  # an empty refusal still tells the person something


# -- the LLM translator against a fake OpenAI-compatible server on 127.0.0.1 -----------------


class _FakeChat(BaseHTTPRequestHandler):
    answers: dict[str, str] = {}
    requests: list[dict] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        said = body["messages"][-1]["content"]
        answer = self.answers.get(said, "UNCLEAR: what do you mean?")
        if answer.startswith("__http_"):
            self.send_response(int(answer[7:10]))
            self.end_headers()
            self.wfile.write(b'{"error": "nope"}')
            return
        if answer == "__slow__":
            time.sleep(1.5)
            answer = "close the gripper"
        payload = (
            b"not json"
            if answer == "__garbage__"
            else json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def fake_llm():
    _FakeChat.answers = {
        "move left a bit": "move the arm to the left by 5 centimeters",
        "quoted": '"Move the arm to the left by 5 centimeters."',
        "json": '{"motion": "close the gripper"}',
        "made up": "move the arm to the left by 7 centimeters",
        "two things": "UNCLEAR: left or down first?",
        "server error": "__http_500",
        "bad key": "__http_401",
        "slow": "__slow__",
        "garbage": "__garbage__",
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def llm(fake_llm):
    _FakeChat.requests = []
    return LLMTranslator(V, LLMConfig(url=fake_llm, model="fake-model", api_key="sk-test", timeout_s=0.5))


def test_llm_valid_answer_and_request(llm):
    t = llm.translate("move left a bit", instruction="pick up the red cube")
    assert t.ok and t.motion_text == "move the arm to the left by 5 centimeters" and t.source == "llm"
    req = _FakeChat.requests[-1]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test"
    body = req["body"]
    assert body["model"] == "fake-model" and body["temperature"] == 0
    system = body["messages"][0]["content"]
    assert all(text in system for text in V.texts)  # the prompt lists the vocabulary
    assert "pick up the red cube" in system
    roles = [m["role"] for m in body["messages"]]
    assert roles.count("assistant") >= 10  # in-context examples
    for m in body["messages"][1:-1:2]:
        assert m["role"] == "user"
    examples = [m["content"] for m in body["messages"] if m["role"] == "assistant"]
    assert all(e in V or e.startswith("UNCLEAR") for e in examples)


@pytest.mark.parametrize(
    ("said", "ok", "fragment"),
    [
        ("quoted", True, ""),
        ("json", True, ""),
        ("made up", False, "not a motion"),
        ("two things", False, "left or down first?"),
        ("server error", False, "HTTP 500"),
        ("bad key", False, "CLIPRT_LLM_API_KEY"),
        ("slow", False, "did not answer"),
        ("garbage", False, "did not return JSON"),
    ],
)
def test_llm_answers_are_validated(llm, said, ok, fragment):
    t = llm.translate(said)
    assert t.ok is ok
    if not ok:
        assert t.motion_id is None and fragment in t.message


def test_llm_unreachable_server():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = LLMTranslator(V, LLMConfig(url=f"http://127.0.0.1:{port}", model="m", timeout_s=0.5)).translate("move left a bit")
    assert not t.ok and "cannot reach" in t.message and "--translator offline" in t.message


def test_llm_config_from_environment(fake_llm):
    with pytest.raises(ValueError, match="CLIPRT_LLM_URL"):
        LLMConfig.from_env({})
    cfg = LLMConfig.from_env({"CLIPRT_LLM_URL": fake_llm, "CLIPRT_LLM_MODEL": "m", "CLIPRT_LLM_API_KEY": "k"})
    assert cfg.endpoint.endswith("/v1/chat/completions") and cfg.api_key == "k"
    assert LLMConfig(url="http://x/v1/chat/completions", model="m").endpoint == "http://x/v1/chat/completions"


def test_make_translator(monkeypatch, fake_llm):
    assert isinstance(make_translator("offline", V), RuleTranslator)
    monkeypatch.setenv("CLIPRT_LLM_URL", fake_llm)
    monkeypatch.setenv("CLIPRT_LLM_MODEL", "m")
    assert isinstance(make_translator("llm", V), LLMTranslator)
    with pytest.raises(ValueError, match="offline"):
        make_translator("psychic", V)


def test_llm_prompt_adapts_to_the_vocabulary():
    vocab = Vocabulary.build(position_magnitudes=(0.02,), rotation_magnitudes_deg=(30.0,), axes=("z",))
    tr = LLMTranslator(vocab, LLMConfig(url="http://127.0.0.1:9", model="m"))
    system = tr.system_prompt()
    assert "raise the arm up by 2 centimeters" in system and "move the arm to the left" not in system
    answers = [a for _, a in tr.examples()]
    assert all(a in vocab or a.startswith("UNCLEAR") for a in answers)
    assert np.all([isinstance(q, str) and q for q, _ in tr.examples()])
