"""The ``cliprt`` command line, the benchmark runner (:mod:`cliprt.evaluation`) and the main job (:mod:`cliprt.demo`).

The environments, agents and data layers are the packages ``cliprt_envs``,
``cliprt_agents`` and ``cliprt_data``; this package composes them. Importing
it loads nothing heavy.
"""

from cliprt_envs import __version__

__all__ = ["__version__"]
