"""The torch device a person asked for, checked before any work starts.

Without this check, ``device="cuda"`` on a machine without a usable GPU
fails deep inside torch (after data collection, model building...) with an
error that does not say what to do.
"""

from __future__ import annotations

from typing import Any

from cliprt_agents.errors import DeviceUnavailableError

#: What ``device`` may be besides a torch device string: None / "auto" = CUDA when torch sees a GPU, else the CPU.
AUTO = "auto"


def resolve_device(device: Any = None, *, fix: str = "device='cpu'") -> Any:
    """``device`` as a ``torch.device``; raises :class:`DeviceUnavailableError` if this machine lacks it.

    ``fix`` is how the caller's user asks for the CPU instead (``--device cpu``
    on the command line), named in the message.
    """
    import torch

    if device is None or (isinstance(device, str) and device.strip().lower() in ("", AUTO)):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = device if isinstance(device, torch.device) else torch.device(str(device).strip())
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"unknown device {device!r}: use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = (
                "this torch build has no CUDA support"
                if torch.version.cuda is None
                else "torch sees no CUDA GPU (no NVIDIA driver or device, or CUDA_VISIBLE_DEVICES hides them)"
            )
            raise DeviceUnavailableError(f"device {str(device)!r} asked for, but {why}; use {fix}")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise DeviceUnavailableError(
                f"device {str(device)!r} asked for, but torch sees {count} GPU(s) (cuda:0 to cuda:{count - 1}); "
                f"use one of those, or {fix}"
            )
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceUnavailableError(f"device {str(device)!r} asked for, but torch has no usable Apple GPU here; use {fix}")
    return dev
