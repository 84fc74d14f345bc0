"""The MuJoCo UR5 twin: backend, camera, scenes and tasks.

Importing this package (or :mod:`cliprt_envs.sim.tasks`) does not import MuJoCo;
:mod:`cliprt_envs.sim.backend` and :mod:`cliprt_envs.sim.camera` do.
"""
