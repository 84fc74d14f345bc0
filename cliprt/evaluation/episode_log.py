"""The results folder's episode log: ``episodes.jsonl``, one finished episode a line.

Each finished episode is appended (and flushed to disk) at once, so an
interrupted run resumes without repeating finished episodes. A line goes to
the file in one ``write`` on a file opened for appending, so benchmark
workers in several processes can share one log without mixing their lines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cliprt_envs.files import atomic_write_json

EPISODES_FILE = "episodes.jsonl"


def episode_key(agent: str, env_id: str, seed: int, episode: int) -> str:
    return f"{agent}|{env_id}|{seed}|{episode}"


def load_episodes(out: Path) -> list[dict]:
    """Finished episodes of a run (a torn last line from a crash is ignored)."""
    return read_jsonl(Path(out) / EPISODES_FILE)


def read_jsonl(path: Path) -> list[dict]:
    """The whole lines of a JSON-lines log (a torn last line from a crash is ignored)."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def write_json(path: Path, doc: dict) -> None:
    atomic_write_json(path, doc, indent=2)


class EpisodeLog:
    """An append-only JSON-lines log in ``out`` (``episodes.jsonl`` unless ``name`` says otherwise).

    ``repair`` drops a torn last line left by a crash before appending; a
    process that shares the log with others (a benchmark worker) opens it
    without, once the process that started them has repaired it.
    """

    def __init__(self, out: Path, name: str = EPISODES_FILE, *, repair: bool = True) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / name
        if repair and self.path.exists():
            text = self.path.read_text()
            if text and not text.endswith("\n"):
                self.path.write_text(text[: text.rfind("\n") + 1])
        self.file = self.path.open("ab", buffering=0)

    def write(self, row: dict) -> None:
        data = (json.dumps(row) + "\n").encode()
        written = self.file.write(data)  # one write(2) with O_APPEND: the line lands whole, after all others
        while written is not None and written < len(data):  # a short write (disk nearly full): finish the line
            written += self.file.write(data[written:]) or 0
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()
