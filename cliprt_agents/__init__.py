"""cliprt_agents: CLIP-RT, CLIP-RT+, baselines and training."""
