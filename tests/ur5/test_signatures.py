"""The twin's doubles have the installed drivers' method names and signatures, so they cannot drift."""

from __future__ import annotations

import inspect
import re

import pytest

from cliprt_envs.ur5 import twin_realsense, twin_rtde

rtde_control = pytest.importorskip("rtde_control", reason="the ur5 extra (ur_rtde) is not installed")
rtde_receive = pytest.importorskip("rtde_receive")
rtde_io = pytest.importorskip("rtde_io")
dashboard_client = pytest.importorskip("dashboard_client")
rs = pytest.importorskip("pyrealsense2", reason="the ur5 extra (pyrealsense2) is not installed")

_SIGNATURE = re.compile(r"^(?:\d+\. )?(\w+)\((.*)\) -> ", re.M)


def pybind_overloads(method: object) -> list[list[tuple[str, bool]]]:
    """Each overload's parameters (without self) as ``(name, has_default)``, read from the pybind docstring."""
    overloads = []
    for match in _SIGNATURE.finditer(inspect.getdoc(method) or ""):
        params = []
        depth, current = 0, ""
        for ch in match.group(2) + ",":
            if ch in "[(":
                depth += 1
            elif ch in "])":
                depth -= 1
            if ch == "," and depth == 0:
                if current.strip():
                    name = current.split(":")[0].strip()
                    params.append((name, "=" in current))
                current = ""
            else:
                current += ch
        overloads.append([p for p in params if p[0] != "self"])
    return overloads


def double_params(method: object) -> list[tuple[str, bool]]:
    sig = inspect.signature(method)
    return [(p.name, p.default is not inspect.Parameter.empty) for p in sig.parameters.values() if p.name != "self"]


def matches(double: list[tuple[str, bool]], real: list[tuple[str, bool]]) -> bool:
    """Same count and defaults; same names wherever pybind names them (``argN`` is unnamed)."""
    if len(double) != len(real):
        return False
    return all(dd == rd and (re.fullmatch(r"arg\d+", rn) or dn == rn) for (dn, dd), (rn, rd) in zip(double, real))


def covers(double: list[tuple[str, bool]], real: list[tuple[str, bool]]) -> bool:
    """The double matches the overload, or does once optional trailing parameters are left out (one
    Python signature standing for several pybind overloads, e.g. ``pipeline()`` and ``pipeline(ctx)``)."""
    for end in range(len(double), -1, -1):
        if matches(double[:end], real):
            return True
        if end and not double[end - 1][1]:
            return False
    return False


def public_methods(cls: type) -> list[str]:
    own = [n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")]
    inherited = [n for n in ("isConnected", "reconnect", "disconnect") if hasattr(cls, n)]
    return sorted(set(own + inherited + ["__init__"]))


PAIRS = [
    (twin_rtde.TwinRTDEControl, "rtde_control", "RTDEControlInterface"),
    (twin_rtde.TwinRTDEReceive, "rtde_receive", "RTDEReceiveInterface"),
    (twin_rtde.TwinRTDEIO, "rtde_io", "RTDEIOInterface"),
    (twin_rtde.TwinDashboardClient, "dashboard_client", "DashboardClient"),
    (twin_realsense.TwinPipeline, "pyrealsense2", "pipeline"),
    (twin_realsense.TwinConfig, "pyrealsense2", "config"),
    (twin_realsense.TwinAlign, "pyrealsense2", "align"),
    (twin_realsense.TwinFrameset, "pyrealsense2", "composite_frame"),
    (twin_realsense.TwinFrame, "pyrealsense2", "frame"),
    (twin_realsense.TwinDevice, "pyrealsense2", "device"),
]
MODULES = {
    "rtde_control": rtde_control,
    "rtde_receive": rtde_receive,
    "rtde_io": rtde_io,
    "dashboard_client": dashboard_client,
    "pyrealsense2": rs,
}


@pytest.mark.parametrize(("double", "module", "name"), PAIRS, ids=[f"{m}.{n}" for _, m, n in PAIRS])
def test_every_double_method_exists_with_the_real_signature(double, module, name):
    real = getattr(MODULES[module], name)
    checked = 0
    for method in public_methods(double):
        if method in ("__init__",) and name in ("composite_frame", "frame", "device"):
            continue  # the library creates these; we never construct them
        if method == "__bool__":
            continue
        assert hasattr(real, method), f"{module}.{name} has no {method}; the double invents it"
        overloads = pybind_overloads(getattr(real, method))
        assert overloads, f"no pybind signature for {module}.{name}.{method}"
        mine = double_params(getattr(double, method))
        assert any(covers(mine, o) for o in overloads), f"{name}.{method}{mine} matches none of {overloads}"
        checked += 1
    assert checked >= 1


def test_the_signature_reader_catches_a_drift():
    """A double whose parameter is misnamed or lacks a default does not match (the check can fail)."""
    real = pybind_overloads(rtde_control.RTDEControlInterface.moveL)
    assert any(matches([("pose", False), ("speed", True), ("acceleration", True), ("asynchronous", True)], o) for o in real)
    assert not any(
        matches([("pose", False), ("velocity", True), ("acceleration", True), ("asynchronous", True)], o) for o in real
    )
    assert not any(matches([("pose", False), ("speed", False), ("acceleration", True), ("asynchronous", True)], o) for o in real)


def test_the_context_double_lists_devices_like_pyrealsense2():
    double = twin_realsense.TwinRealSense(twin=None)
    assert any(covers(double_params(double.context.query_devices), o) for o in pybind_overloads(rs.context.query_devices))
    assert any(covers(double_params(double.pipeline.__init__), o) for o in pybind_overloads(rs.pipeline.__init__))
    assert [d.get_info(double.camera_info.serial_number) for d in double.context().query_devices()] == [double.serial]


def test_the_real_pyrealsense2_takes_our_stream_request():
    """The very calls RealSenseCamera.open makes, on the installed module (no camera needed to build them)."""
    from cliprt_envs.ur5.camera import stream_request
    from cliprt_envs.ur5.config import CameraConfig

    request = stream_request(rs, CameraConfig(depth=True, align_depth=True), "123456789")
    assert isinstance(request, rs.config)
    assert isinstance(rs.align(rs.stream.color), rs.align)


def test_the_enums_we_use_exist_in_pyrealsense2():
    for enum_name, member in (
        ("stream", "color"),
        ("stream", "depth"),
        ("format", "rgb8"),
        ("format", "z16"),
        ("camera_info", "serial_number"),
    ):
        assert hasattr(getattr(rs, enum_name), member)
        assert hasattr(getattr(twin_realsense, enum_name), member)
    assert hasattr(rs.context, "query_devices") and hasattr(rs.device_list, "__len__")
