"""Baselines that share the Agent protocol and the data of CLIP-RT.

Imported lazily: ``from cliprt_agents.baselines.ppo import PPOAgent`` etc.
"""
