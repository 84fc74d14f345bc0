"""A vision-language model as the policy's scorer (the CLIP-RT paper, Fig. 8).

:class:`VLMScorer` is a :class:`~cliprt_agents.protocols.MotionScorer`: at each
step it sends the current image, the instruction and the policy's top-k
candidate motions to an OpenAI-compatible chat endpoint that takes images, asks
which candidates are appropriate or inappropriate (JSON), and turns the verdict
into multiplicative factors (:func:`~cliprt_agents.protocols.appropriateness_factors`).
The settings are the translator's (``CLIPRT_LLM_URL``, ``CLIPRT_LLM_MODEL``,
``CLIPRT_LLM_API_KEY``) and so is the HTTP client
(:mod:`cliprt_data.translate.llm`). The key is read from the environment, sent
only in the ``Authorization`` header and never printed or logged.

A reply that is slow (over ``timeout_s``), failing (network, HTTP 401/500) or
nonsense (not JSON, motions that were not offered, a motion called both) never
stops the robot: that step keeps the policy's own scores (all factors 1) and a
warning is logged. :attr:`VLMScorer.stats` counts calls, fallbacks and time.

>>> policy.scorer = VLMScorer.from_env()      # cliprt bench run --scorer vlm, cliprt run --scorer vlm
"""

from __future__ import annotations

import base64
import concurrent.futures
import io
import json
import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cliprt_agents.protocols import appropriateness_factors
from cliprt_envs.motions import Vocabulary, normalize_text

log = logging.getLogger(__name__)

DEFAULT_PROMPT = """You help a robot arm choose its next motion. You see the robot's camera image.
The robot's task: "{instruction}".
The robot's policy proposes these candidate motions for the next step:
{candidates}
Robot frame: x points forward (away from the robot base), y to the robot's left, z up.
Judge each candidate for this image and task. Answer with JSON only, in this form:
{{"appropriate": ["<candidate text>", ...], "inappropriate": ["<candidate text>", ...]}}
Copy candidate texts exactly; leave out candidates you are unsure about."""


class ScorerReplyError(Exception):
    """The model's reply could not be used (the step falls back to the policy's own scores)."""


@dataclass(frozen=True)
class VLMScorerConfig:
    """Where to ask and how. ``boost``/``penalty`` multiply appropriate/inappropriate motions' scores.

    ``prompt`` is formatted with ``{instruction}`` and ``{candidates}``.
    ``min_image_side``: small camera images are enlarged (nearest neighbour) to at
    least this many pixels before sending, since chat models read tiny images poorly.
    """

    url: str
    model: str
    api_key: str | None = field(default=None, repr=False)  # never printed
    timeout_s: float = 10.0
    top_k: int = 5
    boost: float = 2.0
    penalty: float = 0.1
    prompt: str = DEFAULT_PROMPT
    max_tokens: int = 300
    temperature: float = 0.0
    min_image_side: int = 224

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 seconds, got {self.timeout_s}")
        if not (isinstance(self.top_k, int) and self.top_k >= 1):
            raise ValueError(f"top_k must be a whole number >= 1 (candidates sent per step), got {self.top_k!r}")
        if not (self.boost > 0 and self.penalty >= 0):
            raise ValueError(f"boost must be > 0 and penalty >= 0, got {self.boost} and {self.penalty}")
        if "{candidates}" not in self.prompt:
            raise ValueError("the prompt must contain {candidates} (and may contain {instruction})")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> VLMScorerConfig:
        """URL, model and key from the translator's settings (``CLIPRT_LLM_URL``, ``..._MODEL``, ``..._API_KEY``)."""
        from cliprt_data.translate import LLMConfig

        try:
            llm = LLMConfig.from_env(environ)
        except ValueError as exc:
            raise ValueError(
                f"the VLM scorer uses the translator's settings: {exc}".replace(", or use --translator offline", "")
            ) from None
        return cls(url=llm.url, model=llm.model, api_key=llm.api_key, **overrides)


@dataclass
class ScorerStats:
    """What the scorer did: requests, fallbacks by reason, and the seconds spent waiting."""

    calls: int = 0
    fallbacks: int = 0
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "fallbacks": self.fallbacks, "seconds": self.seconds, "reasons": dict(self.reasons)}


def image_data_url(image: np.ndarray, min_side: int = 0) -> str:
    """A PNG ``data:`` URL of an RGB image, enlarged to at least ``min_side`` pixels (nearest neighbour)."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(np.asarray(image, dtype=np.uint8)))
    if min_side and min(img.size) < min_side:
        scale = int(np.ceil(min_side / min(img.size)))
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def parse_verdict(content: str, candidates: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(appropriate, inappropriate)`` candidate texts from the model's reply; ScorerReplyError when it is unusable.

    Accepts a JSON object (optionally in a code fence) with lists of candidate
    texts or 1-based candidate numbers. Motions that were not offered, a motion
    in both lists, or anything else is refused.
    """
    content = content or ""
    start, end = content.find("{"), content.rfind("}")
    if start < 0:
        raise ScorerReplyError(f"the reply holds no JSON object: {content[:80]!r}")
    try:
        obj = json.loads(content[start : end + 1] if end > start else content[start:])
    except json.JSONDecodeError as exc:
        raise ScorerReplyError(f"the reply is not valid JSON ({exc.msg})") from None
    if not isinstance(obj, dict) or not ({"appropriate", "inappropriate"} & set(obj)):
        raise ScorerReplyError("the reply has neither 'appropriate' nor 'inappropriate'")
    by_text = {normalize_text(c): c for c in candidates}
    lists = []
    for key in ("appropriate", "inappropriate"):
        items = obj.get(key) or []
        if not isinstance(items, list):
            raise ScorerReplyError(f"'{key}' must be a list, got {type(items).__name__}")
        lists.append([_candidate(item, candidates, by_text) for item in items])
    both = set(lists[0]) & set(lists[1])
    if both:
        raise ScorerReplyError(f"the reply calls {sorted(both)} both appropriate and inappropriate")
    return lists[0], lists[1]


def _candidate(item: Any, candidates: Sequence[str], by_text: dict[str, str]) -> str:
    if isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= len(candidates):
        return candidates[item - 1]
    if isinstance(item, str):
        text = re.sub(r"^\s*\d+[.)]\s*", "", item)  # "2. move left ..." as listed
        if normalize_text(text) in by_text:
            return by_text[normalize_text(text)]
    raise ScorerReplyError(f"the reply names {item!r}, which is not one of the candidate motions")


class VLMScorer:
    """Multiplicative factors from a vision-language model's verdict on the policy's top-k motions."""

    def __init__(self, config: VLMScorerConfig) -> None:
        from cliprt_data.translate import LLMConfig, LLMTranslator
        from cliprt_envs.motions import default_vocabulary

        self.config = config
        llm = LLMConfig(
            url=config.url,
            model=config.model,
            api_key=config.api_key,
            timeout_s=config.timeout_s,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
        )
        self._client = LLMTranslator(default_vocabulary(), llm)  # its HTTP client and error messages
        self.stats = ScorerStats()
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="cliprt-vlm")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> VLMScorer:
        return cls(VLMScorerConfig.from_env(environ, **overrides))

    def messages(self, image: np.ndarray, instruction: str, candidates: Sequence[str]) -> list[dict[str, Any]]:
        listed = "\n".join(f"{k}. {text}" for k, text in enumerate(candidates, 1))
        prompt = self.config.prompt.format(instruction=instruction, candidates=listed)
        url = image_data_url(image, self.config.min_image_side)
        content = [{"type": "text", "text": prompt}, {"type": "image_url", "image_url": {"url": url}}]
        return [{"role": "user", "content": content}]

    def __call__(self, observation: dict[str, Any], vocabulary: Vocabulary, scores: np.ndarray) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        rows = scores.reshape(-1, scores.shape[-1])
        images = np.asarray(observation["image"])
        images = images[None] if images.ndim == 3 else images
        instruction = observation["instruction"]
        instructions = [instruction] * len(rows) if isinstance(instruction, str) else [str(s) for s in instruction]
        jobs = [self._pool.submit(self._factors, images[i], instructions[i], vocabulary, rows[i]) for i in range(len(rows))]
        factors = np.stack([self._result(job, len(vocabulary)) for job in jobs])
        return factors[0] if scores.ndim == 1 else factors

    def _result(self, job: concurrent.futures.Future, n: int) -> np.ndarray:
        try:  # a hard deadline on top of the socket timeout: the robot loop never waits longer
            return job.result(timeout=self.config.timeout_s + 1.0)
        except concurrent.futures.TimeoutError:
            self._fallback("timeout", f"no verdict within {self.config.timeout_s:g} s")
            return np.ones(n)

    def _factors(self, image: np.ndarray, instruction: str, vocabulary: Vocabulary, row: np.ndarray) -> np.ndarray:
        top = np.argsort(-row, kind="stable")[: self.config.top_k]
        candidates = [vocabulary.text(int(i)) for i in top]
        body = {
            "model": self.config.model,
            "messages": self.messages(image, instruction, candidates),
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        start = time.perf_counter()
        try:
            content = self._client.chat(body)  # the translator's client
            appropriate, inappropriate = parse_verdict(content, candidates)
        except ScorerReplyError as exc:
            return self._fallback("nonsense", str(exc), start, len(vocabulary))
        except Exception as exc:  # network, HTTP, timeouts (the client's own error type): never stop the robot
            reason = "timeout" if "did not answer within" in str(exc) else "failed"
            return self._fallback(reason, str(exc), start, len(vocabulary))
        self._count(start)
        factors = appropriateness_factors(
            vocabulary, appropriate, inappropriate, boost=self.config.boost, penalty=self.config.penalty
        )
        return factors

    def _count(self, start: float, reason: str | None = None) -> None:
        with self._lock:
            self.stats.calls += 1
            self.stats.seconds += time.perf_counter() - start
            if reason is not None:
                self.stats.fallbacks += 1
                self.stats.reasons[reason] = self.stats.reasons.get(reason, 0) + 1

    def _fallback(self, reason: str, detail: str, start: float | None = None, n: int = 0) -> np.ndarray:
        if start is not None:
            self._count(start, reason)
        else:
            with self._lock:
                self.stats.fallbacks += 1
                self.stats.reasons[reason] = self.stats.reasons.get(reason, 0) + 1
        log.warning("VLM scorer (%s, model %s): %s; this step keeps the policy's own scores", reason, self.config.model, detail)
        return np.ones(n)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
