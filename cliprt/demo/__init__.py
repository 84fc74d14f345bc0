"""The main job, ``cliprt demo``: collect, augment, train, benchmark on the sim twin."""
