"""``cliprt run`` (a policy acts, a person corrects it in language) and the web side of ``cliprt teleop --web``.

Both record through :class:`~cliprt_data.recorder.DatasetRecorder`, exactly as
``cliprt teleop`` does; only the person's side changes (terminal or browser).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only argparse at import time: this module is loaded to build the `cliprt` parser
    from cliprt_data.recorder import DatasetRecorder
    from cliprt_data.teleop.session import EpisodeOutcome
    from cliprt_data.translate import Translator

#: The size of the people's view (the env's render) shown in the browser, in pixels.
WEB_VIEW_SIZE = 256


def add_web_flags(p: argparse.ArgumentParser) -> None:
    """``--web``, ``--host``, ``--port``: serve the session as a page instead of the terminal."""
    from cliprt_data.teleop.web.server import DEFAULT_HOST, DEFAULT_PORT

    p.add_argument("--web", action="store_true", help="serve a page in the browser instead of the terminal prompt")
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address the page listens on (default {DEFAULT_HOST}: this machine only; any other needs the printed token)",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port of the page (default {DEFAULT_PORT}; 0: any free port)")


def make_env(args: argparse.Namespace) -> Any:
    """The env of a teleop/run command: image size, camera, step limit, and for the web a people's view where it has one."""
    import gymnasium as gym

    kwargs: dict[str, Any] = {"image_size": args.image_size, **({"camera": args.camera} if args.camera else {})}
    if getattr(args, "max_steps", None) is not None:
        kwargs["max_episode_steps"] = args.max_steps
    if getattr(args, "config", None) is not None:  # a real robot's config file
        kwargs["config"] = args.config
    if getattr(args, "speed_scale", None) is not None:
        kwargs["speed_scale"] = args.speed_scale
    if getattr(args, "web", False):
        try:
            return gym.make(args.env, **kwargs, render_mode="rgb_array", render_size=WEB_VIEW_SIZE)
        except TypeError:  # an env without a render view of its own: the page shows its cameras only
            pass
    return gym.make(args.env, **kwargs)


def serve_web(
    recorder: DatasetRecorder,
    translator: Translator,
    *,
    agent: Any = None,
    episodes: int,
    seed: int,
    host: str,
    port: int,
    say: Callable[[str], None] = print,
) -> list[EpisodeOutcome]:
    """Run episodes with the person in the browser: teleoperation, or corrections of ``agent`` when given."""
    from cliprt_data.teleop.corrections import CorrectionSession
    from cliprt_data.teleop.session import TeleopConfig, TeleopSession
    from cliprt_data.teleop.web import Hub, WebApp, WebConfig, WebUser, run_episodes, session_frames

    user = WebUser(
        Hub(),
        mode="teleop" if agent is None else "policy",
        frames=session_frames(recorder.env),
        saved=lambda: recorder.writer.total_episodes,
    )
    if agent is None:
        session: TeleopSession = TeleopSession(recorder, translator, user, TeleopConfig())
    else:
        session = CorrectionSession(recorder, translator, user, agent)
    with WebApp(user, WebConfig(host=host, port=port)) as app:
        say(f"open {app.url} in a browser (Ctrl-C stops the server; finished episodes are saved as they end)")
        return run_episodes(session, user, episodes, seed)


def load_agent(text: str, vocabulary: Any, seed: int = 0) -> Any:
    """An agent from ``--policy``: a checkpoint (folder, file, shipped name, hf-hub:...) or a spec (``expert``, ``bc=PATH``)."""
    from cliprt_agents.registry import AGENT_KINDS, AgentSpec, make_agent

    kind = text.split("=", 1)[0].split(":")[-1] if "=" in text else text
    if kind in AGENT_KINDS:
        return make_agent(AgentSpec.parse(text), vocabulary, seed)
    from cliprt_agents.policy import load_policy

    return load_policy(text, vocabulary=vocabulary)


def attach_scorer(agent: Any, scorer: str) -> None:
    """``--scorer vlm``: a vision-language model re-weights the agent's motions (settings: ``CLIPRT_LLM_*``)."""
    if scorer == "none":
        return
    if not hasattr(agent, "scorer"):
        raise ValueError(f"--scorer {scorer} needs an agent that scores motions (clip-rt), not {type(agent).__name__}")
    from cliprt_agents.vlm_scorer import VLMScorer

    agent.scorer = VLMScorer.from_env()


def cmd_run(args: argparse.Namespace, translator_of: Callable[[argparse.Namespace, Any], Translator], storage: Any) -> int:
    """``cliprt run``: the policy acts, the person watches and corrects any step in words; every step is recorded."""
    import gymnasium as gym

    import cliprt_envs  # noqa: F401  (registers the ids)
    from cliprt_data.recorder import DatasetRecorder, RecorderConfig
    from cliprt_data.teleop.corrections import ConsoleCorrectionUser, CorrectionSession
    from cliprt_envs.motions import default_vocabulary

    if args.episodes < 1:
        raise ValueError("--episodes must be >= 1")
    if args.env not in gym.registry:
        raise ValueError(f"unknown env {args.env!r}; `cliprt envs` lists the registered ids")
    env = make_env(args)
    config = RecorderConfig(storage=storage, source="policy", step_kind="policy", save_on_reset=False)
    try:
        vocabulary = getattr(env.unwrapped, "vocabulary", None) or default_vocabulary()
        translator = translator_of(args, vocabulary)
        agent = load_agent(args.policy, vocabulary, args.seed)
        attach_scorer(agent, args.scorer)
        recorder = DatasetRecorder(env, args.out, append=args.append, config=config)
    except BaseException:
        env.close()
        raise
    try:
        if args.web:
            outcomes = serve_web(
                recorder, translator, agent=agent, episodes=args.episodes, seed=args.seed, host=args.host, port=args.port
            )
        else:
            session = CorrectionSession(recorder, translator, ConsoleCorrectionUser(confirm=args.confirm), agent)
            print(
                "Enter lets the policy take the step; type a correction to override it; "
                "commands: undo, success, done, discard, quit"
            )
            outcomes = _terminal_episodes(session, args.episodes, args.seed)
    finally:
        recorder.close()
    saved = sum(o.saved for o in outcomes)
    print(f"\n{saved} episode(s) saved" + ("" if recorder.writer.discarded else f" to {recorder.path}"))
    return 0


def _terminal_episodes(session: Any, episodes: int, seed: int) -> list[EpisodeOutcome]:
    outcomes = []
    for k in range(episodes):
        print(f"\n-- episode {k + 1} of {episodes} --")
        outcomes.append(session.run_episode(seed=seed + k))
        if outcomes[-1].quit:
            break
    return outcomes
