"""S3D (MIL-NCE, HowTo100M) behind :class:`~.base.VideoLanguageEncoder`, from the published files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cliprt_agents.roboclip.config import S3D_RECIPE, FrameRecipe

WEIGHTS_URL = "https://www.rocq.inria.fr/cluster-willow/amiech/howto100m/s3d_howto100m.pth"
VOCABULARY_URL = "https://www.rocq.inria.fr/cluster-willow/amiech/howto100m/s3d_dict.npy"
WEIGHTS_FILE = "s3d_howto100m.pth"
VOCABULARY_FILE = "s3d_dict.npy"


def where_to_get(what: str, path: str | None, url: str, flag: str) -> str:
    given = f"{str(path)!r} does not exist" if path else "no file was given"
    name = url.rsplit("/", 1)[-1]
    return (
        f"S3D needs the MIL-NCE {what} file {name} ({given}). It is published by the MIL-NCE authors "
        f"(https://github.com/antoine77340/S3D_HowTo100M): download it on a machine with internet, "
        f"`wget {url}`, copy it here and pass {flag} /path/to/{name}"
    )


class S3DEncoder:
    """S3D video embeddings (B, 512) and its word-embedding text module, in eval mode, no gradients."""

    name = "s3d"
    embed_dim = 512

    def __init__(self, model, device: str = "cpu", recipe: FrameRecipe = S3D_RECIPE) -> None:
        self.model = model.to(device).eval()
        self.device = device
        self.recipe = recipe

    @classmethod
    def from_files(cls, weights: str | None, vocabulary: str | None, *, device: str = "cpu") -> S3DEncoder:
        """Load ``s3d_howto100m.pth`` and ``s3d_dict.npy``; missing files say where to get them."""
        if not weights or not Path(weights).is_file():
            raise FileNotFoundError(where_to_get("weights", weights, WEIGHTS_URL, "--encoder-weights"))
        if not vocabulary or not Path(vocabulary).is_file():
            raise FileNotFoundError(where_to_get("vocabulary", vocabulary, VOCABULARY_URL, "--encoder-vocabulary"))
        import torch

        from cliprt_agents.roboclip.encoders.s3d import S3D, load_state_dict_strict
        from cliprt_agents.roboclip.encoders.s3d_text import load_vocabulary

        model = S3D(load_vocabulary(vocabulary))
        load_state_dict_strict(model, torch.load(weights, map_location="cpu", weights_only=True))
        return cls(model, device=device)

    @classmethod
    def random(cls, vocabulary: list[str] | None = None, *, seed: int = 0, device: str = "cpu") -> S3DEncoder:
        """Random weights (the paper's "randomly initialised S3D" ablation; also tests and timing)."""
        import torch

        from cliprt_agents.roboclip.encoders.s3d import S3D

        torch.manual_seed(seed)
        return cls(S3D(vocabulary or []), device=device)

    def embed_videos(self, videos: np.ndarray) -> np.ndarray:
        import torch

        x = torch.as_tensor(np.asarray(videos, dtype=np.float32)).permute(0, 4, 1, 2, 3)  # (B, 3, T, H, W)
        with torch.inference_mode():
            out = self.model(x.to(self.device))["video_embedding"]
        return out.float().cpu().numpy()

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.model.embed_text(list(texts))
        return out.float().cpu().numpy()
