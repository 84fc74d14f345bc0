"""The UR5 benchmark scripts run (tiny settings); their figures go in the closing note, not in tests."""

from __future__ import annotations

import pytest

pytest.importorskip("minari", reason="the fault table records through the data extra")


def test_the_fault_table_row_of_a_protective_stop(tmp_path):
    from benchmarks.ur5_faults import run_fault

    row = run_fault("protective_stop", tmp_path)
    assert row["reaction"] == "ended: fault=protective_stop" and row["stop sent"] == "yes"
    assert row["moves sent after"] == 0 and row["kept"] == "3/3"


def test_the_latency_budget_measures_each_part():
    from benchmarks.ur5_latency import measure

    result = measure("random", 3, "moveL", 32)
    assert len(result["policy"]) == len(result["move"]) == len(result["planned"]) == 3
    assert all(t > 0 for t in result["camera"])
