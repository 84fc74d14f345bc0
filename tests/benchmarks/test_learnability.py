"""The learnability study runs end to end on a tiny grid and reuses finished cells."""

from __future__ import annotations

import json
import time

from benchmarks.learnability import main


def test_tiny_grid_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "learn"
    args = ["--task", "PointTo", "--cameras", "wrist", "--demos", "1", "2", "--sta", "0", "1", "--test-demos", "1"]
    args += ["--steps", "2", "--batch-size", "4", "--episodes", "1", "--num-envs", "1", "--out", str(out)]
    assert main(args) == 0
    report = json.loads((out / "learnability.json").read_text())
    cells = {(c["demos"], c["sta_per_demo"]): c for c in report["cells"]}
    assert set(cells) == {(1, 0), (1, 1), (2, 0), (2, 1)}
    assert all(c["camera"] == "wrist" and c["episodes"] == 1 and 0.0 <= c["held_out_accuracy"] <= 1.0 for c in cells.values())
    assert cells[(2, 0)]["train_items"] > cells[(1, 0)]["train_items"]  # the first demo is a prefix of the larger set
    assert cells[(1, 1)]["train_items"] > cells[(1, 0)]["train_items"]  # STA adds labelled recoveries
    assert "| wrist | 2 | 1 |" in capsys.readouterr().out
    start = time.perf_counter()
    assert main(args) == 0  # every cell is reused
    assert time.perf_counter() - start < 5.0
    assert json.loads((out / "learnability.json").read_text())["cells"] == report["cells"]
