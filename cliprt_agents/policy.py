"""CLIP-RT as an agent: cached closed-loop inference, batching, collaboration hooks.

What a step costs: the motion embeddings ``z`` depend only on the vocabulary
and are computed once (the paper re-encoded all 58 texts every step); the
prompt embedding depends only on the instruction and is computed once per
episode (cached by text, so vector envs that auto-reset just work). A step is
then one image forward pass, an add, a normalise and a ``(B, D) x (D, N)``
matmul.

Scores are ``sigmoid(logits)``: the model is trained with a per-pair
binary cross-entropy, so each is that motion's own probability of being
right. Collaboration with people and other models (as in the CLIP-RT paper):

* an external *scorer* (a VLM, a rule) returns per-motion factors that
  multiply the scores before the choice;
* a person's *correction* overrides the next step of one env: a motion text,
  one of our paraphrases, or free language through a *translator* callable.
  Every correction is logged (``policy.corrections`` and the
  ``cliprt_agents.policy`` logger).
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from cliprt_agents.config import format_prompt
from cliprt_agents.model import CLIPRT, motion_token_rows
from cliprt_agents.preprocess import preprocess_images
from cliprt_envs.motions import UnknownMotionError, Vocabulary, normalize_text, paraphrases

if TYPE_CHECKING:
    from cliprt_agents.registry import AgentSpec

log = logging.getLogger(__name__)

Scorer = Callable[[dict[str, Any], Vocabulary, np.ndarray], Any]
TranslatorFn = Callable[[str, Vocabulary], "int | str | None"]


@dataclass(frozen=True)
class Correction:
    """One human correction as applied: what was said, what it meant, what the policy would have done."""

    env_index: int
    step: int
    instruction: str
    text: str
    motion_id: int
    predicted_id: int
    source: str  # "vocabulary", "paraphrase" or "translator"


@dataclass(frozen=True)
class StepRecord:
    """The last decision, for logging and plots (arrays are ``(B, N)``)."""

    scores: np.ndarray
    factors: np.ndarray | None
    final: np.ndarray
    chosen: np.ndarray
    corrected: np.ndarray


def _batch_observation(observation: dict[str, Any]) -> tuple[np.ndarray | torch.Tensor, list[str], bool]:
    """``(images (B, H, W, 3), instructions (B,), single)`` from a single or batched observation."""
    if not isinstance(observation, dict) or "image" not in observation or "instruction" not in observation:
        raise ValueError("an observation is a dict with 'image' and 'instruction' (as LanguageMotionEnv returns)")
    images = observation["image"]
    if not isinstance(images, torch.Tensor):
        images = np.asarray(images)
    single = images.ndim == 3
    if single:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f"image must be (H, W, 3) or (B, H, W, 3), got shape {tuple(images.shape)}")
    b = images.shape[0]
    instruction = observation["instruction"]
    if isinstance(instruction, str):
        instructions = [instruction] * b
    else:
        instructions = [str(s) for s in (instruction.tolist() if isinstance(instruction, np.ndarray) else instruction)]
    if len(instructions) != b:
        raise ValueError(f"{b} images but {len(instructions)} instructions")
    return images, instructions, single


def _batch_proprio(observation: dict[str, Any], batch: int, device: torch.device) -> torch.Tensor:
    """The observation's ``proprio`` as a ``(B, 8)`` float tensor (a model with ``proprio`` needs it)."""
    if "proprio" not in observation:
        raise ValueError("this CLIP-RT model reads proprioception: the observation needs 'proprio' (as LanguageMotionEnv gives)")
    from cliprt_agents.model import proprio_rows

    return torch.from_numpy(proprio_rows(observation["proprio"], batch)).to(device)


#: ``CLIPRTPolicy(mirror=...)``: "off", or "average" the scores of each view and its mirror image.
MIRROR_MODES: tuple[str, ...] = ("off", "average")


class CLIPRTPolicy:
    """An :class:`~cliprt_agents.protocols.Agent` that picks language motions with a CLIP-RT model.

    ``selection`` is "greedy" (argmax of ``scores * factors``) or "sample" (a
    draw from ``softmax(logits / temperature) * factors``; see
    :mod:`cliprt_agents.selection`). ``revisits="avoid"`` rules out, in a state
    the arm was in before this episode, the motions it already took there
    (:mod:`cliprt_agents.revisits`; the factors multiply any scorer's).
    ``precision`` "bf16"/"fp16" runs the towers under autocast on a GPU.
    ``mirror="average"`` scores each observation and its left-right mirror
    image (:mod:`cliprt_agents.mirror`) and averages the two, motion by
    mirrored motion: a policy exactly symmetric under the mirror, at twice the
    inference cost. Valid where mirrored training samples are.
    """

    continuous = False
    needs_env = False

    def __init__(
        self,
        model: CLIPRT,
        vocabulary: Vocabulary,
        *,
        device: str | torch.device | None = None,
        selection: str = "greedy",
        temperature: float = 1.0,
        seed: int | None = None,
        scorer: Scorer | None = None,
        translator: TranslatorFn | None = None,
        precision: str = "fp32",
        cache_size: int = 256,
        revisits: str = "allow",
        mirror: str = "off",
    ) -> None:
        from cliprt_agents.revisits import revisit_memory
        from cliprt_agents.selection import MotionSelection

        self.selection = MotionSelection(selection, temperature)
        self.revisits = revisit_memory(revisits)
        if precision not in ("fp32", "bf16", "fp16"):
            raise ValueError("precision must be fp32, bf16 or fp16")
        from cliprt_agents.devices import resolve_device

        self.model = model
        self.device = resolve_device(device) if device is not None else next(model.parameters()).device
        self.model.to(self.device).eval()
        self.rng = np.random.default_rng(seed)
        self.scorer = scorer
        self.translator = translator
        self.precision = precision
        self.cache_size = cache_size
        self.corrections: list[Correction] = []
        self.last_step: StepRecord | None = None
        self._prompt_cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._pending: dict[int, tuple[str, int, str]] = {}
        self._steps: dict[int, int] = {}
        self._paraphrase_index: dict[str, int] | None = None
        if mirror not in MIRROR_MODES:
            raise ValueError(f"mirror must be one of {', '.join(MIRROR_MODES)}; got {mirror!r}")
        self.mirror = mirror
        self._vocabulary = vocabulary
        self._motion_emb = self._encode_motions(vocabulary)
        self._mirror_ids = self._mirrored_ids(vocabulary)
        self._scale = float(model.logit_scale().detach())

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str | torch.device = "cpu",
        vocabulary: Vocabulary | None = None,
        allow_new_vocabulary: bool = False,
        **kwargs: Any,
    ) -> CLIPRTPolicy:
        """Load a policy from a model directory, a run directory or its ``model.safetensors``.

        ``device`` is all it takes to run on the GPU ("cuda") or the CPU.
        """
        from cliprt_agents.checkpoint import load_model

        model, vocab = load_model(path, device=device, vocabulary=vocabulary, allow_new_vocabulary=allow_new_vocabulary)
        if model.config.variant == "plus" and not issubclass(cls, CLIPRTPlusPolicy):
            cls = CLIPRTPlusPolicy  # a CLIP-RT+ checkpoint acts in continuous deltas
        return cls(model, vocab, device=device, **kwargs)

    @property
    def vocabulary(self) -> Vocabulary:
        return self._vocabulary

    def set_vocabulary(self, vocabulary: Vocabulary) -> None:
        """Score another vocabulary (CLIP-RT language models only: motions are just texts)."""
        if self.model.config.variant != "language":
            raise ValueError(f"a {self.model.config.variant} model is tied to the vocabulary it was trained on")
        self._vocabulary = vocabulary
        self._motion_emb = self._encode_motions(vocabulary)
        self._mirror_ids = self._mirrored_ids(vocabulary)
        self._paraphrase_index = None

    def _mirrored_ids(self, vocabulary: Vocabulary) -> torch.Tensor | None:
        if self.mirror == "off":
            return None
        from cliprt_agents.mirror import mirrored_motion_ids

        return torch.from_numpy(mirrored_motion_ids(vocabulary)).to(self.device)

    # -- inference internals --------------------------------------------------------------
    def _autocast(self) -> Any:
        if self.device.type == "cuda" and self.precision != "fp32":
            return torch.autocast("cuda", dtype=torch.bfloat16 if self.precision == "bf16" else torch.float16)
        return torch.autocast("cpu", enabled=False)

    @torch.inference_mode()
    def _encode_motions(self, vocabulary: Vocabulary) -> torch.Tensor:
        tokens = motion_token_rows(self.model, vocabulary).to(self.device)
        with self._autocast():
            return self.model.motion_embeddings(tokens).float()

    @torch.inference_mode()
    def _prompt_embeddings(self, instructions: Sequence[str]) -> torch.Tensor:
        missing = list(OrderedDict.fromkeys(s for s in instructions if s not in self._prompt_cache))
        if missing:
            prompts = [format_prompt(s, self.model.config.prompt_template) for s in missing]
            tokens = self.model.prompt_tokenizer(prompts).to(self.device)
            with self._autocast():
                emb = self.model.encode_prompt(tokens).float()
            for s, e in zip(missing, emb):
                self._prompt_cache[s] = e
        for s in instructions:
            self._prompt_cache.move_to_end(s)
        while len(self._prompt_cache) > self.cache_size:
            self._prompt_cache.popitem(last=False)
        return torch.stack([self._prompt_cache[s] for s in instructions])

    @torch.inference_mode()
    def _embed(self, observation: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, list[str], bool]:
        """``(image embeddings, prompt embeddings, instructions, single)`` for an observation."""
        images, instructions, single = _batch_observation(observation)
        prompt = self._prompt_embeddings(instructions)
        pixels = preprocess_images(images, self.model.preprocess, device=self.device)
        proprio = _batch_proprio(observation, len(instructions), self.device) if self.model.config.proprio else None
        with self._autocast():
            image = self.model.encode_observation(pixels, proprio, prompt).float()
        return image, prompt, instructions, single

    @torch.inference_mode()
    def _logits(self, observation: dict[str, Any]) -> tuple[torch.Tensor, list[str], bool]:
        logits, instructions, single = self._view_logits(observation)
        if self._mirror_ids is not None:  # column i of the mirrored view scores motion i's mirror image
            from cliprt_agents.mirror import mirror_observation

            mirrored = self._view_logits(mirror_observation(observation))[0]
            logits = 0.5 * (logits + mirrored[:, self._mirror_ids])
        return logits, instructions, single

    def _view_logits(self, observation: dict[str, Any]) -> tuple[torch.Tensor, list[str], bool]:
        image, prompt, instructions, single = self._embed(observation)
        context = self.model.context(image, prompt)  # the one definition of the fusion (ModelConfig.fusion)
        return self._scale * context @ self._motion_emb.T, instructions, single

    # -- Agent protocol ----------------------------------------------------------------------
    def reset(self, instruction: str | Sequence[str] | None = None, env_index: int | None = None) -> None:
        """Start new episode(s): clear pending corrections and step counts; pre-encode instructions.

        ``env_index`` resets one env of a vector env only.
        """
        if env_index is None:
            self._pending.clear()
            self._steps.clear()
        else:
            self._pending.pop(env_index, None)
            self._steps.pop(env_index, None)
        if self.revisits is not None:
            self.revisits.reset(env_index)
        if instruction is not None:
            self._prompt_embeddings([instruction] if isinstance(instruction, str) else list(instruction))

    def logits(self, observation: dict[str, Any]) -> np.ndarray:
        """``exp(t) * c @ z.T``: ``(N,)`` for one observation, ``(B, N)`` for a batch."""
        logits, _, single = self._logits(observation)
        out = logits.cpu().numpy()
        return out[0] if single else out

    def scores(self, observation: dict[str, Any]) -> np.ndarray:
        """The model's per-motion probabilities ``sigmoid(logits)`` (before any scorer factors)."""
        logits, _, single = self._logits(observation)
        out = torch.sigmoid(logits).cpu().numpy()
        return out[0] if single else out

    @property
    def last_scores(self) -> np.ndarray | None:
        """``scores`` of the observation(s) of the last :meth:`act`, ``(B, N)`` (None before the first)."""
        return None if self.last_step is None else self.last_step.scores

    def act(self, observation: dict[str, Any]) -> int | np.ndarray:
        """The next motion id (an int, or a ``(B,)`` array for a batch)."""
        logits, instructions, single = self._logits(observation)
        scores = torch.sigmoid(logits).cpu().numpy().astype(np.float64)
        factors = self._factors(observation, scores, single) if self.scorer is not None else None
        if self.revisits is not None:
            avoid = self.revisits.factors(observation, scores.shape[1])
            factors = avoid if factors is None else factors * avoid
        final = scores * factors if factors is not None else scores
        if self.selection.mode == "greedy":
            chosen = final.argmax(axis=1)
        else:
            chosen = self.selection.choose(logits.float().cpu().numpy(), self.rng, factors)
        corrected = np.zeros(len(chosen), dtype=bool)
        for i in range(len(chosen)):
            step = self._steps.get(i, 0)
            self._steps[i] = step + 1
            if i in self._pending:
                text, motion_id, source = self._pending.pop(i)
                record = Correction(i, step, instructions[i], text, motion_id, int(chosen[i]), source)
                self.corrections.append(record)
                log.info(
                    "correction env %d step %d: %r -> %r (policy wanted %r)",
                    i,
                    step,
                    text,
                    self.vocabulary.text(motion_id),
                    self.vocabulary.text(int(chosen[i])),
                )
                chosen[i] = motion_id
                corrected[i] = True
        if self.revisits is not None:
            self.revisits.record(observation, chosen)
        self.last_step = StepRecord(scores, factors, final, chosen.copy(), corrected)
        return int(chosen[0]) if single else chosen.astype(np.int64)

    # -- collaboration ----------------------------------------------------------------------
    def _factors(self, observation: dict[str, Any], scores: np.ndarray, single: bool) -> np.ndarray:
        raw = self.scorer(observation, self.vocabulary, scores[0] if single else scores)
        factors = np.asarray(raw, dtype=np.float64)
        try:
            factors = np.broadcast_to(factors, scores.shape)
        except ValueError:
            raise ValueError(
                f"the scorer returned factors of shape {np.shape(raw)}; expected ({scores.shape[1]},) or {scores.shape}"
            ) from None
        if not np.all(np.isfinite(factors)) or np.any(factors < 0):
            raise ValueError("scorer factors must be finite and >= 0")
        return factors

    def translate(self, text: str) -> tuple[int, str]:
        """``(motion id, how it was understood)`` for a motion text, a paraphrase or free language."""
        try:
            return self.vocabulary.id_of(text), "vocabulary"
        except UnknownMotionError as exc:
            first_error = exc
        index = self._paraphrases()
        key = normalize_text(text)
        if key in index:
            return index[key], "paraphrase"
        if self.translator is not None:
            result = self.translator(text, self.vocabulary)
            if isinstance(result, str):
                return self.vocabulary.id_of(result), "translator"
            if isinstance(result, (int, np.integer)) and not isinstance(result, bool):
                return self.vocabulary[int(result)].id, "translator"
            raise UnknownMotionError(f"the translator could not turn {text!r} into a motion")
        raise UnknownMotionError(f"{first_error}; for free language pass translator=... to the policy") from None

    def _paraphrases(self) -> dict[str, int]:
        if self._paraphrase_index is None:
            seen: dict[str, set[int]] = {}
            for m in self.vocabulary:
                for p in paraphrases(self.vocabulary, m.id):
                    seen.setdefault(normalize_text(p), set()).add(m.id)
            self._paraphrase_index = {p: next(iter(ids)) for p, ids in seen.items() if len(ids) == 1}
        return self._paraphrase_index

    def correct(self, text: str, env_index: int = 0) -> int:
        """Override the next step of env ``env_index`` with a person's correction; returns the motion id."""
        motion_id, source = self.translate(text)
        self._pending[env_index] = (text, motion_id, source)
        return motion_id


class CLIPRTPlusPolicy(CLIPRTPolicy):
    """CLIP-RT+: continuous 8-D deltas from predicted chunks, executed open-loop then re-planned.

    ``execute_steps`` actions of each ``K``-step chunk run before the next
    prediction (default: the whole chunk, as in the paper). The gripper
    output is snapped to -1/0/+1 with ``gripper_threshold`` because the env
    treats any non-zero value as a command. ``scores`` are the CLIP-RT head's
    (meaningful when trained with ``contrastive_weight > 0``).
    """

    continuous = True

    def __init__(
        self,
        model: CLIPRT,
        vocabulary: Vocabulary,
        *,
        execute_steps: int | None = None,
        gripper_threshold: float = 0.5,
        **kwargs: Any,
    ) -> None:
        if model.config.variant != "plus":
            raise ValueError("CLIPRTPlusPolicy needs a 'plus' model; use CLIPRTPolicy for motion models")
        if kwargs.get("mirror", "off") != "off":
            raise ValueError("CLIP-RT+ predicts continuous action chunks; mirror averaging is for CLIP-RT's motion scores")
        super().__init__(model, vocabulary, **kwargs)
        if self.revisits is not None:
            raise ValueError("revisits='avoid' rules out motions; a CLIP-RT+ policy emits continuous deltas")
        k = model.config.chunk_size
        self.execute_steps = k if execute_steps is None else int(execute_steps)
        if not 1 <= self.execute_steps <= k:
            raise ValueError(f"execute_steps must be in 1..{k}")
        self.gripper_threshold = gripper_threshold
        self._queues: dict[int, list[np.ndarray]] = {}
        self._queue_instruction: dict[int, str] = {}

    def reset(self, instruction: str | Sequence[str] | None = None, env_index: int | None = None) -> None:
        super().reset(instruction, env_index)
        if env_index is None:
            self._queues.clear()
            self._queue_instruction.clear()
        else:
            self._queues.pop(env_index, None)
            self._queue_instruction.pop(env_index, None)

    @torch.inference_mode()
    def predict_chunk(self, observation: dict[str, Any]) -> np.ndarray:
        """``(K, 8)`` (or ``(B, K, 8)``) deltas in env units; dims the model does not predict are 0."""
        image, prompt, _, single = self._embed(observation)
        with self._autocast():
            chunk = self.model.decode_actions(image, prompt).float()
        chunk = (chunk * self.model.action_scale).cpu().numpy()
        out = np.zeros(chunk.shape[:2] + (8,), dtype=np.float32)
        out[:, :, list(self.model.config.action_indices)] = chunk
        g = out[:, :, 7]
        out[:, :, 7] = np.where(np.abs(g) < self.gripper_threshold, 0.0, np.sign(g))
        return out[0] if single else out

    def act(self, observation: dict[str, Any]) -> np.ndarray:
        """The next 8-D delta (``(8,)``, or ``(B, 8)`` for a batch); re-plans envs whose chunk ran out."""
        images, instructions, single = _batch_observation(observation)
        need = [i for i, s in enumerate(instructions) if not self._queues.get(i) or self._queue_instruction.get(i) != s]
        if need:
            sub = {"image": images[need], "instruction": [instructions[i] for i in need]}
            chunks = self.predict_chunk(sub)
            for j, i in enumerate(need):
                self._queues[i] = list(chunks[j][: self.execute_steps])
                self._queue_instruction[i] = instructions[i]
        actions = np.stack([self._queues[i].pop(0) for i in range(len(instructions))])
        for i in range(len(instructions)):
            self._steps[i] = self._steps.get(i, 0) + 1
            if i in self._pending:
                text, motion_id, source = self._pending.pop(i)
                self.corrections.append(Correction(i, self._steps[i] - 1, instructions[i], text, motion_id, -1, source))
                log.info("correction env %d: %r -> %r (chunk dropped)", i, text, self.vocabulary.text(motion_id))
                actions[i] = self.vocabulary.delta(motion_id).astype(np.float32)
                self._queues[i] = []  # re-plan from the corrected state
        return actions[0] if single else actions


def load_policy(path: str | os.PathLike[str], *, device: str | torch.device = "cpu", **kwargs: Any) -> CLIPRTPolicy:
    """The right policy class for a checkpoint (motions for CLIP-RT/-Action, deltas for CLIP-RT+)."""
    from cliprt_agents.hub import is_hub_checkpoint, load_hub_policy

    if is_hub_checkpoint(path):  # "hf-hub:..." or the CLIP-RT authors' open_clip files: CLIP-RT-Zero
        return load_hub_policy(path, device=device, **kwargs)
    from cliprt_agents.checkpoint import load_model

    vocabulary = kwargs.pop("vocabulary", None)
    allow_new = kwargs.pop("allow_new_vocabulary", False)
    model, vocab = load_model(path, device=device, vocabulary=vocabulary, allow_new_vocabulary=allow_new)
    cls = CLIPRTPlusPolicy if model.config.variant == "plus" else CLIPRTPolicy
    return cls(model, vocab, device=device, **kwargs)


def clip_rt_agent(spec: AgentSpec, vocabulary: Vocabulary, seed: int) -> CLIPRTPolicy:
    """Registry factory (``clip-rt=CHECKPOINT``, options ``?selection=sample&temperature=T&revisits=avoid``)."""
    from cliprt_agents.revisits import revisits_from_options
    from cliprt_agents.selection import selection_from_options

    chosen = selection_from_options(spec.options)
    return load_policy(
        spec.require_checkpoint(),
        vocabulary=vocabulary,
        selection=chosen.mode,
        temperature=chosen.temperature,
        seed=seed,
        revisits=revisits_from_options(spec.options),
        mirror=str(spec.options.get("mirror", "off")),
    )
