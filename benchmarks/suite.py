"""Suite files: which agents run on which envs, how many episodes and seeds.

A suite is TOML (or JSON) like ``benchmarks/suites/sim.toml``::

    env_ids = ["all-sim"]        # or explicit ids
    episodes = 20
    seeds = [0]
    num_envs = 2
    image_size = 224
    camera = "wrist"             # optional: the view agents see (default: the env's)

    [[agents]]
    spec = "random"
    [[agents]]
    spec = "clip-rt=runs/demo/clip-rt"
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from benchmarks.agents import AgentSpec
from benchmarks.runner import BenchConfig
from cliprt_envs.registry import SIM_TASKS

ALL_SIM = "all-sim"


def expand_env_ids(ids: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for env_id in ids:
        out.extend(e.env_id for e in SIM_TASKS) if env_id == ALL_SIM else out.append(env_id)
    return tuple(dict.fromkeys(out))


def load_suite(path: Path) -> tuple[BenchConfig, list[AgentSpec]]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"suite file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
    agents_raw = data.pop("agents", None)
    if not agents_raw:
        raise ValueError(f"{path}: a suite needs at least one [[agents]] entry with a 'spec'")
    known = {f.name for f in fields(BenchConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; allowed: {sorted(known | {'agents'})}")
    if "env_ids" not in data:
        raise ValueError(f"{path}: 'env_ids' is required (a list of ids, or [\"{ALL_SIM}\"])")
    data["env_ids"] = expand_env_ids(list(data["env_ids"]))
    if "seeds" in data:
        data["seeds"] = tuple(int(s) for s in data["seeds"])
    agents = []
    for entry in agents_raw:
        if not isinstance(entry, dict) or "spec" not in entry:
            raise ValueError(f"{path}: each [[agents]] entry needs a 'spec' string, got {entry!r}")
        spec = AgentSpec.parse(entry["spec"])
        if "label" in entry:
            spec = AgentSpec(entry["label"], spec.kind, spec.checkpoint)
        agents.append(spec)
    return BenchConfig(**data), agents
