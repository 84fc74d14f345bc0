"""The twin's tasks, one file each; importable without MuJoCo (the backend is only a type here)."""
