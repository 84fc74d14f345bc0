"""``cliprt teleop``, ``run``, ``collect``, ``augment``, ``convert`` and ``dataset``.

Only argparse at import time (``cliprt --help`` stays fast); gymnasium,
MuJoCo, Minari and torch load inside the command that needs them.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from cliprt_data.teleop.run_command import add_web_flags

AMOUNT_CHOICES = {"none": None, "slightly": 0, "a-bit": 1, "a-fair-amount": 2, "a-lot": 3}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the data commands to the ``cliprt`` parser's sub-commands."""
    for add in (_add_teleop, _add_run, _add_collect, _add_augment, _add_convert, _add_dataset):
        add(sub)


def _add_teleop(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "teleop",
        help="teach by talking: type supervision per step, record episodes",
        description="Language-based teleoperation: give a task instruction, then type what the arm should do at each step "
        "('move left a lot', 'a bit lower', 'close the gripper'). Commands: undo, success, done, discard, quit, help.",
    )
    p.add_argument("--env", required=True, help="environment id, e.g. CLIPRT-UR5Sim-Pick-v0 (see `cliprt envs`)")
    p.add_argument("--out", type=Path, required=True, help="dataset folder (name it <name>-v0 for minari.load_dataset)")
    p.add_argument("--episodes", type=int, default=10, help="episodes to record (the paper used 10 per skill)")
    _translator_args(p)
    _view_args(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode's scene")
    p.add_argument("--max-steps", type=int, default=None, help="step limit per episode (default: the env's)")
    p.add_argument("--view", type=Path, default=None, help="PNG refreshed with the camera image (default: OUT/teleop_view.png)")
    p.add_argument("--window", action="store_true", help="also show the image in a window (needs a display and tkinter)")
    p.add_argument("--confirm", action="store_true", help="ask before executing each motion (advisable on a real robot)")
    _robot_args(p)
    add_web_flags(p)
    _storage_args(p)
    p.set_defaults(func=cmd_teleop)


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a policy on an env while you watch and correct it in words; record every step",
        description="The policy proposes each motion (its top motions and scores are shown); press Enter (or 'Let the "
        "policy act' in the browser) to let it act, or type a correction in your own words: it goes through the "
        "translator and overrides that step only. Every correction is logged with what the policy wanted and saved with "
        "its episode. Commands: undo, success, done, discard, quit.",
    )
    p.add_argument(
        "--policy",
        required=True,
        help="a checkpoint (run folder, file, shipped name such as cliprt-ur5sim-v6) or an agent spec (expert, bc=PATH)",
    )
    p.add_argument("--env", required=True, help="environment id, e.g. CLIPRT-UR5Sim-Pick-v0 (see `cliprt envs`)")
    p.add_argument("--out", type=Path, required=True, help="dataset folder the episodes are recorded into")
    p.add_argument("--episodes", type=int, default=1, help="episodes to run")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode's scene")
    p.add_argument("--max-steps", type=int, default=None, help="step limit per episode (default: the env's)")
    p.add_argument(
        "--scorer",
        choices=("none", "vlm"),
        default="none",
        help="vlm: a vision-language model re-weights the policy's top motions "
        "(CLIPRT_LLM_URL, CLIPRT_LLM_MODEL, CLIPRT_LLM_API_KEY)",
    )
    p.add_argument("--confirm", action="store_true", help="ask before executing each correction (terminal)")
    _robot_args(p)
    _translator_args(p)
    _view_args(p)
    add_web_flags(p)
    _storage_args(p)
    p.set_defaults(func=cmd_run)


def _robot_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="robot config (YAML/TOML) for a real robot, e.g. --env CLIPRT-UR5-v0 --config robot.yaml "
        "(its instruction: field starts each episode; type another in the session)",
    )
    p.add_argument(
        "--speed-scale",
        type=float,
        default=None,
        help="real robot: fraction (0, 1] of the config's speed limits; 0.25 for a first run",
    )


def _add_collect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "collect",
        help="gather demonstrations with a scripted user that talks to the translator",
        description="The task's scripted expert picks each motion, a scripted user says it as a random paraphrase, "
        "the translator turns it back into a motion (mismatches are counted and rephrased), the env executes it.",
    )
    p.add_argument("--env", required=True, help="sim environment id, e.g. CLIPRT-UR5Sim-Pick-v0")
    p.add_argument("--episodes", type=int, required=True, help="demonstrations to save")
    p.add_argument("--out", type=Path, required=True, help="dataset folder")
    _translator_args(p)
    _view_args(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the first scene and of the phrasing")
    p.add_argument("--keep-failures", action="store_true", help="also save episodes where the expert failed")
    p.add_argument("--max-attempts", type=int, default=None, help="episodes to try at most (default 3 x --episodes)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _storage_args(p)
    p.set_defaults(func=cmd_collect)


def _add_augment(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "augment",
        help="stochastic trajectory augmentation (STA) of simulated demonstrations",
        description="For every successful demonstration, execute --per-demo new trajectories through the same waypoints "
        "(diversification) with deviations and recoveries (only recoveries are labels), restarting from the recorded "
        "simulator states. Failed trajectories are dropped and counted; the report is printed and saved as "
        "OUT/augment_report.json.",
    )
    p.add_argument("--data", type=Path, action="append", required=True, help="demonstration dataset folder (repeatable)")
    p.add_argument("--out", type=Path, required=True, help="new dataset folder for demonstrations + augmented trajectories")
    p.add_argument("--per-demo", type=int, default=3, help="augmented trajectories per demonstration (paper: 3)")
    p.add_argument(
        "--n-fine", type=int, default=3, help="last moves per segment kept as fine moves, each with a recovery (paper: 3)"
    )
    p.add_argument("--attempts", type=int, default=3, help="tries per requested trajectory before giving up on it")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument(
        "--labels",
        choices=("heuristic", "expert"),
        default=None,
        help="heuristic (default, the paper's): each step is labelled with the motion STA executes; expert (sim tasks): "
        "the same motions are executed, but each step is labelled with the scripted expert's motion at its state",
    )
    p.add_argument(
        "--no-demos", action="store_true", help="write only the augmented trajectories, not copies of the demonstrations"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_augment)


def _add_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="turn a dataset of low-level end-effector deltas into language supervision",
        description="Reads a Minari dataset whose actions are [dx, dy, dz, droll, dpitch, dyaw, (gripper rotation,) gripper] "
        "and labels each step with a motion of the vocabulary by its dominant axis, as the CLIP-RT paper labels "
        "Open X-Embodiment (Kang et al., 'CLIP-RT: Learning Language-Conditioned Robotic Policies from Natural Language "
        "Supervision', Appendix A): position deltas count 7.854 times more than rotations (0.1 m against 0.7854 rad); "
        "a step needs more than 1 cm or 5 degrees on that axis, smaller steps stay unlabelled; a change of the absolute "
        "gripper value by more than 0.5 is 'open' or 'close' and wins; the size is rounded to the vocabulary's nearest "
        "magnitude, and the supervision text is a random paraphrase of that motion.",
    )
    p.add_argument("--data", required=True, help="Minari dataset folder or id")
    p.add_argument("--out", type=Path, required=True, help="new dataset folder")
    p.add_argument("--image-key", default="image", help="image key in dict observations ('none': the observation is the image)")
    p.add_argument("--instruction-key", default=None, help="text observation holding the instruction")
    p.add_argument("--instruction", default=None, help="fixed instruction for every episode")
    p.add_argument("--action-key", default=None, help="key of the low-level action in dict actions")
    p.add_argument("--columns", default="0,1,2,3,4,5", help="source columns of dx,dy,dz,droll,dpitch,dyaw")
    p.add_argument("--flip", default="", help="axes whose sign to flip to reach x forward, y left, z up (e.g. 'y,yaw')")
    p.add_argument("--position-scale", type=float, default=1.0, help="source position unit in metres (0.001 for mm)")
    p.add_argument(
        "--rotation-scale", type=float, default=1.0, help=f"source rotation unit in radians ({math.pi / 180:.6f} for degrees)"
    )
    p.add_argument("--gripper-column", default="-1", help="column of the absolute gripper value ('none': no gripper)")
    p.add_argument("--gripper-closed-high", action="store_true", help="larger gripper values mean more closed")
    p.add_argument(
        "--gripper-scale", type=float, default=1.0, help="multiply gripper values by this before the 0.5 event threshold"
    )
    p.add_argument("--no-paraphrase", action="store_true", help="use the motion's own text instead of a random paraphrase")
    p.add_argument("--seed", type=int, default=0, help="random seed of the paraphrases")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _storage_args(p, append=False)
    p.set_defaults(func=cmd_convert)


def _add_dataset(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dataset", help="inspect, check or repair a recorded dataset")
    p.add_argument(
        "action", choices=("info", "check", "repair"), help="info: summary; check: verify files; repair: keep complete episodes"
    )
    p.add_argument("path", type=Path, help="dataset folder")
    p.add_argument("--json", action="store_true", help="print the manifest entries as JSON (info)")
    p.set_defaults(func=cmd_dataset)


def _translator_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--translator",
        choices=("offline", "llm"),
        default="offline",
        help="offline rules (default) or an OpenAI-compatible LLM (set CLIPRT_LLM_URL, CLIPRT_LLM_MODEL, CLIPRT_LLM_API_KEY)",
    )
    p.add_argument(
        "--default-amount",
        choices=sorted(AMOUNT_CHOICES),
        default="none",
        help="amount used when only a direction is said (offline translator; default: ask 'how far?')",
    )


def _view_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image-size", type=int, default=224, help="camera image size in pixels")
    p.add_argument("--camera", help="sim view to record: front (default), side or wrist")


def _storage_args(p: argparse.ArgumentParser, append: bool = True) -> None:
    if append:
        p.add_argument("--append", action="store_true", help="add episodes to an existing dataset in --out")
    enc = p.add_mutually_exclusive_group()
    enc.add_argument("--lossless", action="store_true", help="always store raw images (default: raw up to 128 px, JPEG above)")
    enc.add_argument("--jpeg", action="store_true", help="always store JPEG images (10-20x smaller; smears small objects)")


def _jpeg_choice(args: argparse.Namespace) -> bool | None:
    """--lossless -> raw, --jpeg -> JPEG, neither -> decided by image size (StorageConfig)."""
    return False if args.lossless else (True if args.jpeg else None)


def _translator(args: argparse.Namespace, vocabulary: object) -> object:
    from cliprt_data.translate import make_translator

    if args.translator == "offline":
        return make_translator("offline", vocabulary, default_amount=AMOUNT_CHOICES[args.default_amount])  # type: ignore[arg-type]
    return make_translator("llm", vocabulary)  # type: ignore[arg-type]


def _check_env(env_id: str) -> None:
    import gymnasium as gym

    import cliprt_envs  # noqa: F401  (registers the ids)

    if env_id not in gym.registry:
        raise ValueError(f"unknown env {env_id!r}; `cliprt envs` lists the registered ids")


def cmd_teleop(args: argparse.Namespace) -> int:

    from cliprt_data.recorder import DatasetRecorder, RecorderConfig
    from cliprt_data.storage import StorageConfig
    from cliprt_data.teleop import HELP, ConsoleUser, TeleopConfig, TeleopSession
    from cliprt_data.teleop.run_command import make_env
    from cliprt_envs.motions import default_vocabulary

    if args.episodes < 1:
        raise ValueError("--episodes must be >= 1")
    _check_env(args.env)
    env = make_env(args)
    config = RecorderConfig(
        storage=StorageConfig(jpeg=_jpeg_choice(args)), source="teleop", step_kind="teleop", save_on_reset=False
    )
    try:
        # The translator first: a bad --translator setting fails before anything is written.
        translator = _translator(args, getattr(env.unwrapped, "vocabulary", None) or default_vocabulary())
        recorder = DatasetRecorder(env, args.out, append=args.append, config=config)
    except BaseException:
        env.close()
        raise
    if args.web:
        return _teleop_web(args, recorder, translator)
    user = ConsoleUser(confirm=args.confirm)
    view = (args.view if args.view is not None else Path(recorder.path) / "teleop_view.png").absolute()
    view_existed = view.exists()
    session = TeleopSession(recorder, translator, user, TeleopConfig(view_path=view, window=args.window))
    print(HELP)
    saved = 0
    try:
        for k in range(args.episodes):
            print(f"\n-- episode {k + 1} of {args.episodes} --")
            outcome = session.run_episode(seed=args.seed + k)
            saved += outcome.saved
            if outcome.quit:
                break
    finally:
        session.close()
        recorder.close()
        if recorder.writer.discarded and not view_existed:
            view.unlink(missing_ok=True)
    if recorder.writer.discarded:
        print(f"\nno episode saved; {recorder.path} was not kept")
        return 0
    print(f"\n{saved} episode(s) saved to {recorder.path}")
    return 0


def _teleop_web(args: argparse.Namespace, recorder: object, translator: object) -> int:
    """``cliprt teleop --web``: the same session and recorder, the person in the browser."""
    from cliprt_data.teleop.run_command import serve_web

    try:
        outcomes = serve_web(
            recorder,  # type: ignore[arg-type]
            translator,  # type: ignore[arg-type]
            episodes=args.episodes,
            seed=args.seed,
            host=args.host,
            port=args.port,
        )
    finally:
        recorder.close()  # type: ignore[attr-defined]
    saved = sum(o.saved for o in outcomes)
    kept = not recorder.writer.discarded  # type: ignore[attr-defined]
    print(f"\n{saved} episode(s) saved" + (f" to {recorder.path}" if kept else ""))  # type: ignore[attr-defined]
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from cliprt_data.storage import StorageConfig
    from cliprt_data.teleop.run_command import cmd_run as run

    return run(args, _translator, StorageConfig(jpeg=_jpeg_choice(args)))  # type: ignore[arg-type]


def cmd_collect(args: argparse.Namespace) -> int:
    from cliprt_data.teleop import CollectConfig, collect_demonstrations

    _check_env(args.env)
    config = CollectConfig(
        env_id=args.env,
        episodes=args.episodes,
        seed=args.seed,
        image_size=args.image_size,
        camera=args.camera,
        translator=args.translator,
        keep_failures=args.keep_failures,
        max_attempts=args.max_attempts,
        append=args.append,
        jpeg=_jpeg_choice(args),
        default_amount=AMOUNT_CHOICES[args.default_amount],
    )
    try:
        report = collect_demonstrations(config, args.out, progress=not args.no_progress)
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None
    tr = report["translation"]
    if report["episodes_saved"] == 0:
        kept = "" if args.append else f"; {report['dataset']} was not kept"
        print(
            f"no demonstration succeeded in {report['attempts']} attempts ({report['steps']} steps){kept}; "
            "raise --max-attempts, or pass --keep-failures to save failed ones"
        )
        return 1
    print(
        f"saved {report['episodes_saved']} demonstrations ({report['steps']} steps, {report['episodes_failed']} failed attempts) "
        f"to {report['dataset']} in {report['seconds']:.1f} s ({report['steps_per_second']:.1f} steps/s)"
    )
    print(
        f"translator '{report['translator']}': {tr['phrases']} phrases, {tr['matched']} matched the expert, "
        f"{tr['mismatched']} mismatched, {tr['unclear']} unclear, {tr['fallbacks']} fell back to the motion text"
    )
    for ex in tr["examples"][:5]:
        print(f"  {ex['kind']}: {ex['phrase']!r} -> {ex['got']!r} (expected {ex['expected']!r}) {ex['message']}")
    if report["episodes_saved"] < args.episodes:
        print(f"warning: only {report['episodes_saved']} of {args.episodes} demonstrations succeeded; raise --max-attempts")
        return 1
    return 0


def cmd_augment(args: argparse.Namespace) -> int:
    from cliprt_data.augment import STAConfig, augment_dataset, format_report

    labels = {} if args.labels is None else {"labels": args.labels}  # the default is STAConfig's
    config = STAConfig(
        per_demo=args.per_demo, n_fine=args.n_fine, attempts_per_trajectory=args.attempts, seed=args.seed, **labels
    )
    report = augment_dataset(args.data, args.out, config, include_demos=not args.no_demos, progress=not args.no_progress)
    print(format_report(report))
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from cliprt_data.convert import ConversionConfig, convert_episodes, minari_episodes, parse_columns
    from cliprt_data.storage import StorageConfig

    axes = ("x", "y", "z", "roll", "pitch", "yaw")
    flips = [a.strip() for a in args.flip.split(",") if a.strip()]
    unknown = [a for a in flips if a not in axes]
    if unknown:
        raise ValueError(f"--flip takes axes among {axes}, got {unknown}")
    if args.instruction is None and args.instruction_key is None:
        raise ValueError("say where the instruction comes from: --instruction-key KEY or --instruction TEXT")
    grip = None if args.gripper_column.lower() == "none" else int(args.gripper_column)
    config = ConversionConfig(
        columns=parse_columns(args.columns),
        signs=tuple(-1.0 if a in flips else 1.0 for a in axes),  # type: ignore[arg-type]
        position_scale=args.position_scale,
        rotation_scale=args.rotation_scale,
        gripper_column=grip,
        gripper_open_high=not args.gripper_closed_high,
        gripper_scale=args.gripper_scale,
        paraphrase=not args.no_paraphrase,
    )
    episodes, total, name = minari_episodes(
        args.data,
        image_key=None if args.image_key == "none" else args.image_key,
        instruction_key=args.instruction_key,
        instruction=args.instruction,
        action_key=args.action_key,
    )
    counts = convert_episodes(
        episodes,
        args.out,
        config=config,
        storage=StorageConfig(jpeg=_jpeg_choice(args)),
        source_name=name,
        seed=args.seed,
        progress=not args.no_progress,
        total=total,
    )
    print(
        f"converted {counts['episodes']} episodes, {counts['steps']} steps: {counts['labelled']} labelled, "
        f"{counts['dropped_small']} too small to name (kept unlabelled), {counts['gripper_events']} gripper events "
        f"-> {counts['dataset']}"
    )
    return 0


def cmd_dataset(args: argparse.Namespace) -> int:
    from cliprt_data.storage import check_dataset, repair_dataset, summarize

    if args.action == "repair":
        print(repair_dataset(args.path))
        print(summarize(check_dataset(args.path)))
        return 0
    info = check_dataset(args.path)
    if args.action == "check":
        print(f"ok: {info.total_episodes} episodes, {info.total_steps} steps, files consistent")
        return 0
    print(summarize(info))
    if args.json:
        print(json.dumps(list(info.episodes), indent=1))
    return 0
