"""Asking for a device this machine lacks fails at once, saying what to use instead."""

from __future__ import annotations

import pytest
import torch

from cliprt_agents.devices import resolve_device
from cliprt_agents.errors import DeviceUnavailableError


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_and_cpu(no_gpu):
    assert resolve_device(None).type == "cpu"
    assert resolve_device("auto").type == "cpu"
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_cuda_without_a_gpu_names_the_fix(no_gpu):
    with pytest.raises(DeviceUnavailableError, match=r"device 'cuda' asked for, but .*; use --device cpu"):
        resolve_device("cuda", fix="--device cpu")
    with pytest.raises(DeviceUnavailableError, match="use device='cpu'"):
        resolve_device(torch.device("cuda", 0))
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        resolve_device("gpu")


def test_a_gpu_index_past_the_last_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DeviceUnavailableError, match=r"sees 1 GPU\(s\) \(cuda:0 to cuda:0\)"):
        resolve_device("cuda:3")


def test_policies_and_baselines_check_the_device_first(no_gpu, tmp_path, make_model, vocabulary):
    from cliprt_agents.baselines.bc import BCAgent
    from cliprt_agents.checkpoint import save_model
    from cliprt_agents.policy import CLIPRTPolicy, load_policy

    save_model(make_model(), tmp_path / "model", vocabulary)
    with pytest.raises(DeviceUnavailableError, match="use device='cpu'"):
        load_policy(tmp_path / "model", device="cuda")
    with pytest.raises(DeviceUnavailableError):
        CLIPRTPolicy.from_checkpoint(tmp_path / "model", device="cuda")
    with pytest.raises(DeviceUnavailableError):  # before looking for the checkpoint
        BCAgent(tmp_path / "no-bc-here", device="cuda")
    assert load_policy(tmp_path / "model", device="cpu").device.type == "cpu"
