"""cliprt_data: episodes, recording, teleoperation, trajectory augmentation, conversion, datasets."""
