"""Every name a package exports resolves (lazy exports are only checked when someone uses them)."""

import importlib

import pytest


@pytest.mark.parametrize("package", ["cliprt", "cliprt_envs", "cliprt_agents", "cliprt_data"])
def test_every_exported_name_resolves(package):
    module = importlib.import_module(package)
    missing = [name for name in getattr(module, "__all__", []) if not hasattr(module, name)]
    assert missing == []
