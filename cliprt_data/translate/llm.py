"""Translation by a chat model behind an OpenAI-compatible HTTP endpoint (standard library only)."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from cliprt_data.translate.base import Translation, validated
from cliprt_envs.motions import (
    GRIPPER_PHRASES,
    UnknownMotionError,
    Vocabulary,
    paraphrases,
)

ENV_URL = "CLIPRT_LLM_URL"
ENV_MODEL = "CLIPRT_LLM_MODEL"
ENV_KEY = "CLIPRT_LLM_API_KEY"


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to ask an OpenAI-compatible chat endpoint.

    ``url`` is the API base (``http://host:port/v1``) or the full
    ``.../chat/completions`` address.
    """

    url: str
    model: str
    api_key: str | None = field(default=None, repr=False)  # never printed
    timeout_s: float = 30.0
    temperature: float = 0.0
    max_tokens: int = 64
    n_examples: int = 14

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> LLMConfig:
        """Read ``CLIPRT_LLM_URL``, ``CLIPRT_LLM_MODEL`` and ``CLIPRT_LLM_API_KEY``.

        ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` are used when the cliprt
        variables are unset.
        """
        env = os.environ if environ is None else environ
        url = env.get(ENV_URL) or env.get("OPENAI_BASE_URL")
        model = env.get(ENV_MODEL)
        missing = [n for n, v in ((ENV_URL, url), (ENV_MODEL, model)) if not v]
        if missing:
            raise ValueError(
                f"the LLM translator needs {' and '.join(missing)} (e.g. export {ENV_URL}=http://localhost:8000/v1 "
                f"{ENV_MODEL}=my-model; {ENV_KEY} if the server wants a key), or use --translator offline"
            )
        key = env.get(ENV_KEY) or env.get("OPENAI_API_KEY") or None
        return cls(url=str(url), model=str(model), api_key=key, **overrides)  # type: ignore[arg-type]

    @property
    def endpoint(self) -> str:
        url = self.url.rstrip("/")
        return url if url.endswith("/chat/completions") else f"{url}/chat/completions"


_SYSTEM_PROMPT = """You translate what a person says to a UR5 robot arm into exactly one motion from a fixed list.
The person is teaching the task: "{instruction}".
Robot frame: x points forward (away from the robot base), y to the robot's left, z up.
Rules:
- Answer with one line: a motion copied exactly, word for word, from the list below.
- Pick the closest amount: "slightly" means the smallest step, "a lot" the largest; numbers go to the nearest listed amount.
- If the request is unclear, asks for more than one motion, or matches no motion,
  answer "UNCLEAR: " followed by a short question for the person.
Motions:
{motions}"""


class LLMTranslator:
    """Translation by a chat model behind an OpenAI-compatible HTTP endpoint.

    Uses only the standard library (``urllib``). Network errors, refusals and
    answers that are not exactly a motion of the vocabulary all come back as
    unclear translations with a message; the robot never moves on them.
    """

    source = "llm"

    def __init__(self, vocabulary: Vocabulary, config: LLMConfig) -> None:
        self.vocabulary = vocabulary
        self.config = config

    def system_prompt(self, instruction: str = "") -> str:
        motions = "\n".join(f"- {m.text}" for m in self.vocabulary)
        return _SYSTEM_PROMPT.format(instruction=instruction or "(not given)", motions=motions)

    def examples(self) -> list[tuple[str, str]]:
        """In-context (supervision, answer) pairs, derived from the vocabulary's paraphrases."""
        rng = np.random.default_rng(0)
        vocab = self.vocabulary
        pairs: list[tuple[str, str]] = []
        arm = [m for m in vocab if not m.is_gripper]
        picks = rng.choice(len(arm), size=min(len(arm), max(0, self.config.n_examples - 4)), replace=False) if arm else []
        for k, i in enumerate(picks):
            motion = arm[int(i)]
            options = [p for p in paraphrases(vocab, motion.id)[1:] if (k % 2 == 0) == any(c.isdigit() for c in p)]
            options = options or list(paraphrases(vocab, motion.id))
            pairs.append((options[int(rng.integers(len(options)))], motion.text))
        for motion in vocab:
            if motion.is_gripper:
                alts = GRIPPER_PHRASES.get(motion.text, ())
                pairs.append((alts[1] if len(alts) > 1 else motion.text, motion.text))
        pairs.append(("move left and then down", "UNCLEAR: one motion at a time, please: left or down first?"))
        pairs.append(("do the thing", "UNCLEAR: which way should the arm move, and how far?"))
        return pairs

    def messages(self, text: str, instruction: str = "") -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system_prompt(instruction)}]
        for user, answer in self.examples():
            msgs.append({"role": "user", "content": user})
            msgs.append({"role": "assistant", "content": answer})
        msgs.append({"role": "user", "content": text})
        return msgs

    def translate(self, text: str, *, instruction: str = "") -> Translation:
        if not isinstance(text, str) or not text.strip():
            return Translation(str(text), None, None, "say how the arm should move", self.source)
        body = {
            "model": self.config.model,
            "messages": self.messages(text.strip(), instruction),
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        try:
            content = self.chat(body)
        except _LLMError as exc:
            return Translation(text, None, None, str(exc), self.source)
        return validated(self.parse_answer(text, content), self.vocabulary)

    def parse_answer(self, text: str, content: str) -> Translation:
        """Read the model's answer: a motion text, ``UNCLEAR: question`` or JSON ``{"motion": ...}``."""
        answer = content.strip()
        if answer.startswith("{"):
            try:
                obj = json.loads(answer)
                answer = str(obj.get("motion") or (obj.get("unclear") and f"UNCLEAR: {obj['unclear']}") or "")
            except (json.JSONDecodeError, AttributeError):
                pass
        lines = [ln.strip() for ln in answer.splitlines() if ln.strip()]
        answer = lines[0] if lines else ""
        answer = re.sub(r"^(motion|answer)\s*:\s*", "", answer, flags=re.IGNORECASE).strip().strip("`\"'").strip()
        if answer.upper().startswith("UNCLEAR"):
            question = answer[len("UNCLEAR") :].lstrip(" :-").strip()
            return Translation(text, None, None, question or "please rephrase", self.source)
        if not answer:
            return Translation(text, None, None, "the language model gave no answer; please rephrase", self.source)
        try:
            mid = self.vocabulary.id_of(answer)
        except UnknownMotionError:
            return Translation(
                text, None, None, f"the language model answered {answer!r}, which is not a motion; please rephrase", self.source
            )
        return Translation(text, mid, self.vocabulary.text(mid), "", self.source)

    def chat(self, body: dict[str, object]) -> str:
        """POST one chat-completions request ``body``; the reply's message text (errors say what to fix)."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        request = urllib.request.Request(self.config.endpoint, data=json.dumps(body).encode(), headers=headers, method="POST")
        where = self.config.endpoint
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip()
            hint = "; check CLIPRT_LLM_API_KEY" if exc.code in (401, 403) else ""
            raise _LLMError(
                f"the language model at {where} answered HTTP {exc.code} ({detail or exc.reason}){hint}; try again"
            ) from None
        except TimeoutError:
            raise _LLMError(
                f"the language model at {where} did not answer within {self.config.timeout_s:g} s; try again"
            ) from None
        except urllib.error.URLError as exc:
            raise _LLMError(
                f"cannot reach the language model at {where} ({exc.reason}); check CLIPRT_LLM_URL or use --translator offline"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _LLMError(f"the language model at {where} did not return JSON; is it an OpenAI-compatible endpoint?") from None
        try:
            return str(payload["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            raise _LLMError(f"unexpected reply from {where}: no choices[0].message.content") from None


class _LLMError(Exception):
    pass
