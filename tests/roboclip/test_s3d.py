"""S3D in our code: the published state dict's layout, the forward pass on random weights, clear errors."""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cliprt_agents.roboclip.encoders.s3d import INCEPTION_BLOCKS, S3D, load_state_dict_strict, state_dict_layout  # noqa: E402
from cliprt_agents.roboclip.encoders.s3d_encoder import VOCABULARY_URL, WEIGHTS_URL, S3DEncoder  # noqa: E402
from cliprt_agents.roboclip.encoders.s3d_text import MAX_WORDS, VOCABULARY_SIZE, SentenceEmbedding, load_vocabulary  # noqa: E402

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _unit(prefix, c_in, c_out, kernel, separable=False):
    """The keys and shapes of one conv unit of the published checkpoint, written out from the architecture."""
    out = {}
    if separable:
        out[f"{prefix}.conv1.weight"] = (c_out, c_in, 1, kernel[1], kernel[2])
        out[f"{prefix}.conv2.weight"] = (c_out, c_out, kernel[0], 1, 1)
        bns = ("bn1", "bn2")
    else:
        out[f"{prefix}.conv1.weight"] = (c_out, c_in, *kernel)
        bns = ("bn1",)
    for bn in bns:
        for name in BN:
            out[f"{prefix}.{bn}.{name}"] = () if name == "num_batches_tracked" else (c_out,)
    return out


def _gating(prefix, c):
    return {f"{prefix}.fc.weight": (c, c), f"{prefix}.fc.bias": (c,)}


def published_layout():
    """S3D-G (MIL-NCE) with the text module, key by key, from the paper's architecture tables."""
    out = {**_unit("conv1", 24, 64, (2, 4, 4)), **_unit("conv_2b", 64, 64, (1, 1, 1))}
    out.update(_unit("conv_2c", 64, 192, (3, 3, 3), separable=True))
    out.update(_gating("gating", 192))
    c_in = 192
    for name, (w0, w1a, w1, w2a, w2, w3) in INCEPTION_BLOCKS:
        out.update(_unit(f"{name}.conv_b0", c_in, w0, (1, 1, 1)))
        out.update(_unit(f"{name}.conv_b1_a", c_in, w1a, (1, 1, 1)))
        out.update(_unit(f"{name}.conv_b1_b", w1a, w1, (3, 3, 3), separable=True))
        out.update(_unit(f"{name}.conv_b2_a", c_in, w2a, (1, 1, 1)))
        out.update(_unit(f"{name}.conv_b2_b", w2a, w2, (3, 3, 3), separable=True))
        out.update(_unit(f"{name}.conv_b3_b", c_in, w3, (1, 1, 1)))
        for b, c in zip(("b0", "b1", "b2", "b3"), (w0, w1, w2, w3)):
            out.update(_gating(f"{name}.gating_{b}", c))
        c_in = w0 + w1 + w2 + w3
    out.update({"fc.weight": (512, 1024), "fc.bias": (512,)})
    out.update({"text_module.word_embd.weight": (66250, 300), "text_module.fc1.weight": (2048, 300)})
    out.update({"text_module.fc1.bias": (2048,), "text_module.fc2.weight": (512, 2048), "text_module.fc2.bias": (512,)})
    return out


def test_state_dict_matches_the_published_layout_key_for_key():
    model = S3D()
    layout = state_dict_layout(model)
    expected = published_layout()
    assert len(expected) == 537
    assert layout == expected
    params = sum(p.numel() for p in model.parameters())
    assert round(params / 1e6, 1) == 31.2


def test_a_checkpoint_with_the_published_keys_loads_strictly_and_a_damaged_one_is_refused(tmp_path):
    source = S3D()
    state = {f"module.{k}": v for k, v in source.state_dict().items()}  # DataParallel-style prefixes are accepted
    target = S3D()
    load_state_dict_strict(target, state)
    assert torch.equal(target.fc.weight, source.fc.weight)
    del state["module.mixed_5c.conv_b0.conv1.weight"]
    with pytest.raises(ValueError, match="1 missing"):
        load_state_dict_strict(S3D(), state)


def test_forward_on_random_weights_gives_the_published_shapes():
    model = S3D().eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 8, 64, 64))
    assert out["video_embedding"].shape == (2, 512)
    assert out["mixed_5c"].shape == (2, 1024)
    assert torch.isfinite(out["video_embedding"]).all()


@pytest.mark.parametrize("shape", [(1, 3, 7, 64, 64), (1, 3, 8, 63, 64), (1, 3, 8, 64, 65), (1, 1, 8, 64, 64)])
def test_odd_or_wrong_shapes_are_rejected_with_a_clear_error(shape):
    with pytest.raises(ValueError, match="S3D"):
        S3D()(torch.rand(*shape))


def test_text_module_tokenises_like_the_published_one():
    text = SentenceEmbedding(["robot", "closing", "green", "drawer", "don't"])
    ids = text.tokenize(["Robot CLOSING the green drawer!", "unknown words only", "don't " * 20])
    assert ids.shape == (3, MAX_WORDS)
    assert ids[0, :4].tolist() == [1, 2, 3, 4] and ids[0, 4:].sum() == 0  # "the" is not in the vocabulary
    assert ids[1].sum() == 0
    assert ids[2].tolist() == [5] * MAX_WORDS  # at most 16 words
    assert text.word_embd.num_embeddings == VOCABULARY_SIZE
    assert text(["robot closing green drawer"]).shape == (1, 512)


def test_vocabulary_file_round_trip(tmp_path):
    path = tmp_path / "s3d_dict.npy"
    np.save(path, np.array(["open", "door"], dtype=object), allow_pickle=True)  # the published file is an object array
    assert load_vocabulary(path) == ["open", "door"]


def test_missing_weight_files_say_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        S3DEncoder.from_files(str(tmp_path / "s3d_howto100m.pth"), str(tmp_path / "s3d_dict.npy"))
    assert WEIGHTS_URL in str(err.value) and "--encoder-weights" in str(err.value)
    weights = tmp_path / "w.pth"
    torch.save(S3D().state_dict(), weights)
    with pytest.raises(FileNotFoundError, match=VOCABULARY_URL):
        S3DEncoder.from_files(str(weights), None)


def test_encoder_from_files_embeds_videos_and_texts(tmp_path):
    weights, vocab = tmp_path / "s3d_howto100m.pth", tmp_path / "s3d_dict.npy"
    torch.save(S3D().state_dict(), weights)
    np.save(vocab, np.array(["open", "door"]))
    encoder = S3DEncoder.from_files(str(weights), str(vocab))
    assert encoder.embed_videos(np.random.rand(1, 4, 32, 32, 3).astype(np.float32)).shape == (1, 512)
    assert encoder.embed_texts(["open door"]).shape == (1, 512)
    assert Path(weights).exists()


def _seeded_state(model):
    """Deterministic weights for every key (key i in sorted order from generator seed i), BN variances > 0."""
    out = {}
    for i, (key, value) in enumerate(sorted(model.state_dict().items())):
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(0)
            continue
        t = torch.randn(value.shape, generator=torch.Generator().manual_seed(i)) * 0.05
        out[key] = t.abs() + 0.5 if key.endswith("running_var") else t
    return out


def test_outputs_match_the_authors_implementation_on_seeded_weights():
    """Golden values printed by the MIL-NCE authors' own ``s3dg.py`` (run outside this repository) on the
    same seeded weights, input and sentence: our code computes the same video, mixed_5c and text outputs."""
    words = ["robot", "closing", "green", "drawer", "open", "door"]
    model = S3D(words)
    model.load_state_dict(_seeded_state(model))
    model.eval()
    x = torch.rand(1, 3, 8, 64, 64, generator=torch.Generator().manual_seed(123))
    with torch.no_grad():
        out = model(x)
        text = model.embed_text(["robot closing green drawer"])
    video = out["video_embedding"][0]
    np.testing.assert_allclose(video[:6].numpy(), [-0.061527, -0.029763, -0.011156, -0.038297, 0.11167, 0.010975], atol=2e-5)
    assert float(video.sum()) == pytest.approx(-0.82364, abs=2e-4)
    np.testing.assert_allclose(out["mixed_5c"][0, :4].numpy(), [0.039568, 0.0, 0.0, 0.014033], atol=2e-5)
    assert float(out["mixed_5c"].sum()) == pytest.approx(9.66818, abs=2e-3)
    np.testing.assert_allclose(text[0, :6].numpy(), [-0.188688, 0.288615, -0.232365, 0.117803, 0.062871, 0.121853], atol=2e-5)
    assert float(text.sum()) == pytest.approx(-0.44813, abs=2e-4)
