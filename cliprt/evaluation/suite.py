"""Suite files: which agents run on which envs, how many episodes and seeds.

A suite is TOML (or JSON) like ``cliprt/evaluation/suites/sim.toml``::

    env_ids = ["all-sim"]        # or explicit ids
    episodes = 20
    seeds = [0]
    num_envs = 2
    image_size = 224
    camera = "wrist"             # optional: the view agents see (default: the env's)
    video_size = 256             # optional: videos for people (also video_camera, video_episodes)
    trace = true                 # optional: per-step traces, see cliprt.evaluation.trace

    [[agents]]
    spec = "random"
    [[agents]]
    spec = "clip-rt=runs/demo/clip-rt"
    label = "clip-rt-demo"       # optional: the name in tables (default: the kind)

Keys are the fields of :class:`cliprt.evaluation.settings.BenchConfig`; a wrong type,
range or name is refused with the file, the key and the fix.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from cliprt.evaluation.settings import BenchConfig
from cliprt_agents.registry import AgentSpec
from cliprt_envs.registry import SIM_TASKS

ALL_SIM = "all-sim"


def expand_env_ids(ids: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for env_id in ids:
        out.extend(e.env_id for e in SIM_TASKS) if env_id == ALL_SIM else out.append(env_id)
    return tuple(dict.fromkeys(out))


AGENT_KEYS = ("spec", "label")


#: The suites shipped inside the package (``--suite sim``), so a pip-installed user has them too.
SHIPPED_SUITES = Path(__file__).resolve().parent / "suites"


def shipped_suites() -> list[str]:
    return sorted(p.stem for p in SHIPPED_SUITES.glob("*.toml"))


def resolve_suite(name_or_path: str | Path) -> Path:
    """A suite file path, or the name of a shipped suite (``sim`` -> ``cliprt/evaluation/suites/sim.toml``)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    if path.parent == Path(".") and not path.suffix and (SHIPPED_SUITES / f"{path.name}.toml").exists():
        return SHIPPED_SUITES / f"{path.name}.toml"
    raise FileNotFoundError(
        f"suite file {path} does not exist; give a TOML/JSON file or a shipped suite name ({', '.join(shipped_suites())})"
    )


def load_suite(path: str | Path) -> tuple[BenchConfig, list[AgentSpec]]:
    """Read and check a suite (a file or a shipped name); every problem is a ValueError naming the file, key and fix."""
    path = resolve_suite(path)
    text = path.read_text()
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a suite is a table of settings with [[agents]] entries, got {type(data).__name__}")
    agents_raw = data.pop("agents", None)
    if not agents_raw:
        raise ValueError(f"{path}: a suite needs at least one [[agents]] entry with a 'spec'")
    known = {f.name for f in fields(BenchConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; allowed: {sorted(known | {'agents'})}")
    if "env_ids" not in data:
        raise ValueError(f"{path}: 'env_ids' is required (a list of ids, or [\"{ALL_SIM}\"])")
    env_ids = data["env_ids"]
    if isinstance(env_ids, str):
        raise ValueError(f"{path}: env_ids must be a list, got the string {env_ids!r}; write env_ids = [{json.dumps(env_ids)}]")
    if not isinstance(env_ids, list) or not all(isinstance(e, str) for e in env_ids):
        raise ValueError(f'{path}: env_ids must be a list of env id strings (or ["{ALL_SIM}"]), got {env_ids!r}')
    data["env_ids"] = expand_env_ids(env_ids)
    if isinstance(data.get("seeds"), list):
        data["seeds"] = tuple(data["seeds"])
    agents = [_agent(path, k, entry) for k, entry in enumerate(agents_raw if isinstance(agents_raw, list) else [agents_raw])]
    try:
        return BenchConfig(**data), agents
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _agent(path: Path, k: int, entry: object) -> AgentSpec:
    where = f"{path}: [[agents]] entry {k + 1}"
    if not isinstance(entry, dict) or "spec" not in entry:
        raise ValueError(f"{where} needs a 'spec' string, e.g. spec = \"random\"; got {entry!r}")
    unknown = sorted(set(entry) - set(AGENT_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; allowed: {list(AGENT_KEYS)}")
    if not isinstance(entry["spec"], str):
        raise ValueError(f'{where}: spec must be a string such as "random" or "clip-rt=PATH", got {entry["spec"]!r}')
    try:
        spec = AgentSpec.parse(entry["spec"])
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if "label" in entry:
        if not isinstance(entry["label"], str) or not entry["label"].strip():
            raise ValueError(f"{where}: label must be a non-empty string, got {entry['label']!r}")
        spec = AgentSpec(entry["label"], spec.kind, spec.checkpoint)
    return spec
