"""STA over whole datasets: ``cliprt augment``, its checks, its report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cliprt_data.augment.execute import AugmentStats, TrajectoryFailed, augment_demo, check_labelling, relabelled_steps
from cliprt_data.augment.plan import STAConfig
from cliprt_data.storage import (
    DatasetInfo,
    DatasetReader,
    DatasetWriter,
    Episode,
    StorageConfig,
    build_metadata,
    check_dataset,
    same_space,
)
from cliprt_envs.motions import Vocabulary, default_vocabulary

_DEFAULT_CONFIG = STAConfig()  # frozen: one shared default is safe


def augment_dataset(
    sources: Sequence[str | Path],
    out: str | Path,
    config: STAConfig = _DEFAULT_CONFIG,
    *,
    include_demos: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Augment every successful demonstration of ``sources`` into a new dataset ``out``.

    With ``include_demos`` the demonstrations are copied first (bit-exact),
    so ``out`` is the training set the paper describes (demos + 3 x STA).
    ``config.labels`` (heuristic or expert labels) is recorded in the
    metadata (``sta``), in the report and in every augmented episode's
    manifest entry (``labels``).
    Returns the augmentation report (also written to ``out/augment_report.json``).
    """
    import gymnasium as gym

    import cliprt_envs  # noqa: F401  (registers the ids)
    from cliprt_envs.files import atomic_write_json

    infos = _check_sources(sources)
    first = infos[0]
    vocab = first.vocabulary
    wrapped = gym.make(first.env_id, **_env_kwargs(first, vocab))
    stats: dict[str, AugmentStats] = {}
    start = time.perf_counter()
    try:
        check_labelling(wrapped.unwrapped, config)  # before anything is written
        writer = DatasetWriter.create(
            out,
            observation_space=first.observation_space(),
            action_space=first.action_space(),
            metadata=_metadata(infos, config, vocab),
            config=StorageConfig(jpeg=first.jpeg),
            env_spec=wrapped.spec,
        )
        with writer:  # closing removes the new folder again if no episode got into it (an error, nothing kept)
            _SourceAugmenter(wrapped.unwrapped, vocab, config, writer, stats, include_demos).run(infos, progress)
            if writer.total_episodes == 0:
                raise _nothing_saved(stats, include_demos, writer.path)
    finally:
        wrapped.close()
    report = _report(writer.path, infos, config, include_demos, stats, time.perf_counter() - start)
    writer.update_metadata({"augment_report": {k: v for k, v in report.items() if k != "per_task"}})
    atomic_write_json(Path(writer.path) / "augment_report.json", report)
    return report


def _check_sources(sources: Sequence[str | Path]) -> list[DatasetInfo]:
    """The sources' infos, once they are known to be augmentable together."""
    if not sources:
        raise ValueError("give at least one dataset to augment (--data DIR)")
    infos = [check_dataset(s) for s in sources]
    first = infos[0]
    for info in infos:
        _check_augmentable(info)
        same = same_space(info.minari_metadata["observation_space"], first.minari_metadata["observation_space"])
        if not same or info.env_id != first.env_id:
            raise ValueError(
                f"{info.path} and {first.path} hold different envs or observations; augment them into separate folders"
            )
        if info.jpeg != first.jpeg:
            raise ValueError(f"{info.path} and {first.path} store images differently (JPEG vs raw); augment them separately")
    return infos


def _env_kwargs(info: DatasetInfo, vocab: Vocabulary) -> dict[str, Any]:
    """How to make the env the demonstrations were recorded on (a vocabulary other than the default is passed)."""
    kwargs = dict(info.env_kwargs)
    if vocab.name != default_vocabulary().name:
        kwargs["vocabulary"] = vocab
    return kwargs


def _metadata(infos: Sequence[DatasetInfo], config: STAConfig, vocab: Vocabulary) -> dict[str, Any]:
    first = infos[0]
    return build_metadata(
        source="augment",
        vocabulary=vocab,
        env_id=first.env_id,
        env_kwargs=first.env_kwargs,
        task=first.metadata.get("task"),
        has_sim_state=True,
        extra={
            "sta": {k: v for k, v in config.__dict__.items()},
            "augmented_from": [str(i.path) for i in infos],
            "max_episode_steps": first.metadata.get("max_episode_steps"),
        },
    )


class _SourceAugmenter:
    """Walks the source datasets: copies each demonstration (optionally) and augments the successful ones."""

    def __init__(
        self,
        env: Any,
        vocab: Vocabulary,
        config: STAConfig,
        writer: DatasetWriter,
        stats: dict[str, AugmentStats],
        include_demos: bool,
    ) -> None:
        self.env = env
        self.vocab = vocab
        self.config = config
        self.writer = writer
        self.stats = stats
        self.include_demos = include_demos

    def run(self, infos: Sequence[DatasetInfo], progress: bool) -> None:
        from tqdm.auto import tqdm

        total_demos = sum(i.total_episodes for i in infos)
        bar = tqdm(total=total_demos, desc="augment", unit="demo", disable=not progress, dynamic_ncols=True)
        try:
            for source_number, info in enumerate(infos):
                with DatasetReader(info.path) as reader:
                    for index in range(info.total_episodes):
                        self.episode(reader, info, index, source_number, bar)
        finally:
            bar.close()

    def episode(self, reader: DatasetReader, info: DatasetInfo, index: int, source_number: int, bar: Any) -> None:
        entry = info.episodes[index]
        task = str(entry.get("task") or info.metadata.get("task") or "?")
        st = self.stats.setdefault(task, AugmentStats())
        if self.include_demos:
            self.writer.copy_episode(info, index, extra={"copied_from": f"{info.path}#{index}"})
        bar.update(1)
        if entry.get("source") == "augment" or (self.config.require_success and not entry.get("success")):
            st.demos_skipped += 1
            return
        demo = reader.episode(index, images=False)
        st.demos += 1
        st.demo_transitions += int(demo.labelled.sum())
        _augment_one(self.env, demo, self.vocab, self.config, st, self.writer, info, index, task, source_number)
        kept = sum(s.kept for s in self.stats.values())
        bar.set_postfix(kept=kept, dropped=sum(s.dropped for s in self.stats.values()))


def _nothing_saved(stats: dict[str, AugmentStats], include_demos: bool, path: Path) -> ValueError:
    reasons: Counter = Counter()
    for s in stats.values():
        reasons.update(s.drop_reasons)
    why = f"dropped: {dict(reasons)}" if reasons else "no successful demonstration to augment"
    copied = "and --no-demos left nothing to copy" if not include_demos else "and the sources hold no episode"
    return ValueError(f"no trajectory could be augmented ({why}) {copied}; nothing was saved to {path}")


def _report(
    path: Path,
    infos: Sequence[DatasetInfo],
    config: STAConfig,
    include_demos: bool,
    stats: dict[str, AugmentStats],
    seconds: float,
) -> dict[str, Any]:
    added = sum(s.transitions_added for s in stats.values())
    return {
        "dataset": str(path),
        "sources": [str(i.path) for i in infos],
        "per_demo": config.per_demo,
        "labels": config.labels,
        "include_demos": include_demos,
        "per_task": {k: v.as_dict() for k, v in stats.items()},
        "transitions_added": added,
        "seconds": seconds,
        "augmented_transitions_per_second": added / seconds if seconds > 0 else 0.0,
        "steps_executed_per_second": sum(s.steps_executed for s in stats.values()) / seconds if seconds > 0 else 0.0,
    }


def _check_augmentable(info: DatasetInfo) -> None:
    if not info.has_sim_state or not info.env_id:
        raise ValueError(
            f"{info.path} has no simulator states (or no env id), so STA cannot restart from its states; "
            "augment data recorded in simulation (cliprt collect / cliprt teleop on a CLIPRT-UR5Sim env)"
        )
    if info.metadata.get("action_kind", "motion") != "motion":
        raise ValueError(f"{info.path} holds continuous actions; STA works on language-motion demonstrations")


def _augment_one(
    env: Any,
    demo: Episode,
    vocab: Vocabulary,
    config: STAConfig,
    stats: AugmentStats,
    writer: DatasetWriter,
    info: DatasetInfo,
    index: int,
    task: str,
    source_number: int = 0,
) -> None:
    for k in range(config.per_demo):
        stats.requested += 1
        for attempt in range(config.attempts_per_trajectory):
            stats.attempts += 1
            rng = np.random.default_rng([config.seed, source_number, index, k, attempt])
            try:
                builder = augment_demo(env, demo, vocab, config, rng, stats)
            except TrajectoryFailed as exc:
                stats.dropped += 1
                stats.drop_reasons[exc.reason] += 1
                continue
            writer.write_episode(
                builder,
                success=bool(builder.infos[-1]["is_success"]),
                extra={
                    "source": "augment",
                    "task": task,
                    "parent": f"{info.path}#{index}",
                    "parent_episode": index,
                    "trajectory": k,
                    "attempt": attempt,
                    "labels": config.labels,
                },
            )
            stats.kept += 1
            stats.relabelled += relabelled_steps(builder)
            stats.transitions_added += builder.labelled_steps
            stats.steps_recorded += len(builder)
            break


def format_report(report: dict[str, Any]) -> str:
    """The augmentation report as a small table."""
    lines = [
        "| task | demos | demo transitions | kept / requested | dropped (reasons) | transitions added | recoveries (skipped) |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, s in report["per_task"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(s["drop_reasons"].items())) or "-"
        lines.append(
            f"| {task} | {s['demos']} | {s['demo_transitions']} | {s['kept']} / {s['requested']} | {s['dropped']} ({reasons}) | "
            f"{s['transitions_added']} | {s['recoveries']} ({s['recoveries_skipped']}) |"
        )
    labels = report["labels"]
    if labels == "expert":
        relabelled = sum(s.get("relabelled", 0) for s in report["per_task"].values())
        labels += f" ({relabelled} of {report['transitions_added']} differ from the motion STA executed)"
    lines.append(
        f"\nlabels: {labels}; {report['transitions_added']} transitions added in {report['seconds']:.1f} s "
        f"({report['augmented_transitions_per_second']:.1f}/s); dataset: {report['dataset']}"
    )
    return "\n".join(lines)
