"""``cliprt roboclip``: train-encoder on recorded twin episodes, then train with it from an expert demonstration."""

import json

import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("mujoco")
from cliprt.cli import main

pytestmark = pytest.mark.sim


@pytest.mark.slow
def test_train_encoder_then_train_from_one_expert_demonstration(tmp_path, capsys):
    enc = tmp_path / "enc"
    args = ["roboclip", "train-encoder", "--out", str(enc), "--tasks", "OpenDrawer", "--episodes", "1"]
    args += ["--steps", "2", "--batch-size", "4", "--image-size", "32", "--width", "8", "--embed-dim", "16", "--no-progress"]
    assert main(args) == 0
    report = json.loads((enc / "report.json").read_text())
    assert report["episodes"] == 2 and report["successes"] >= 1
    out = tmp_path / "run"
    args = ["roboclip", "train", "--env", "sim:OpenDrawer", "--render-width", "32", "--render-height", "32"]
    args += ["--encoder", "trained", "--encoder-weights", str(enc), "--demo", "expert", "--out", str(out)]
    args += ["--steps", "32", "--n-envs", "1", "--n-steps", "32", "--batch-size", "32", "--eval-episodes", "1", "--no-progress"]
    assert main(args) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["spec"]["target"].startswith("expert demonstration")
    assert (out / "model.zip").exists()


def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys):
    args = ["roboclip", "train", "--env", "sim:OpenDrawer", "--out", str(tmp_path), "--steps", "8"]
    assert main([*args, "--encoder", "s3d"]) == 2
    assert "s3d_howto100m.pth" in capsys.readouterr().err
    assert main([*args, "--encoder", "trained", "--encoder-weights", str(tmp_path), "--text", "x", "--video", "y"]) == 2
    assert main(["roboclip", "train", "--env", "nowhere", "--out", str(tmp_path)]) == 2


def test_score_prints_the_similarity_of_each_video(tmp_path, tiny_encoder_dir, tiny_encoder, capsys):
    import numpy as np

    iio = pytest.importorskip("imageio.v3")
    frames = np.random.default_rng(0).integers(0, 255, (6, 40, 40, 3), dtype=np.uint8)
    iio.imwrite(tmp_path / "a.gif", frames)
    args = ["roboclip", "score", str(tmp_path / "a.gif"), "--text", "open the drawer"]
    assert main([*args, "--encoder", "trained", "--encoder-weights", str(tiny_encoder_dir)]) == 0
    printed = float(capsys.readouterr().out.split()[0])
    from cliprt_agents.roboclip.targets import Target, demo_clip, target_embedding

    z = target_embedding(tiny_encoder, Target(text="open the drawer"))
    expected = float(tiny_encoder.embed_videos(demo_clip(tmp_path / "a.gif", tiny_encoder.recipe)[None])[0] @ z)
    assert printed == pytest.approx(expected, abs=1e-4)
