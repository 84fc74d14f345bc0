"""RoboCLIP: a video-language model's similarity between an episode's video and one demonstration as the RL reward.

The pieces: :class:`~cliprt_agents.roboclip.reward.RoboCLIPReward` (a Gymnasium
wrapper), video-language encoders behind one interface
(:mod:`cliprt_agents.roboclip.encoders`: S3D from MIL-NCE, any open_clip model
on frames, and a small encoder trained here), task targets (text, a
demonstration video, or an edit of one), and PPO training on Meta-World and on
the MuJoCo twin (``cliprt roboclip train``). Importing this package loads no
torch, MuJoCo or Meta-World.
"""
