"""The MIL-NCE text module: word2vec-style word embeddings -> MLP -> max over words -> 512-d.

Words come from the published vocabulary file ``s3d_dict.npy`` (66,250
words; a word's token is its index + 1, 0 pads). A sentence is lower-cased,
split into words (letters, digits, ``_`` and ``'``), words outside the
vocabulary are dropped, and at most 16 are kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

VOCABULARY_SIZE = 66250
WORD_DIM = 300
HIDDEN_DIM = 2048
MAX_WORDS = 16
_WORD = re.compile(r"[\w']+")


def load_vocabulary(path: str | Path) -> list[str]:
    """The words of ``s3d_dict.npy`` in token order (token = index + 1)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"S3D vocabulary file {str(path)!r} does not exist")
    try:
        words = np.load(path, allow_pickle=False)
    except ValueError:  # the published file stores Python strings (an object array)
        words = np.load(path, allow_pickle=True)
    return [str(w) for w in np.asarray(words).reshape(-1)]


class SentenceEmbedding(nn.Module):
    """``texts -> (B, embed_dim)``; the parameter names are those of the published state dict."""

    def __init__(self, vocabulary: list[str] | None, embed_dim: int = 512, max_words: int = MAX_WORDS) -> None:
        super().__init__()
        self.word_embd = nn.Embedding(VOCABULARY_SIZE, WORD_DIM)
        self.fc1 = nn.Linear(WORD_DIM, HIDDEN_DIM)
        self.fc2 = nn.Linear(HIDDEN_DIM, embed_dim)
        self.max_words = max_words
        self.set_vocabulary(vocabulary or [])

    def set_vocabulary(self, vocabulary: list[str]) -> None:
        # Tokens past the embedding table (a longer file than the weights) are left out rather than crash.
        self.word_to_token = {w: i + 1 for i, w in enumerate(vocabulary) if i + 1 < VOCABULARY_SIZE}

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """``(B, max_words)`` token ids, zero-padded; unknown words are dropped."""
        rows = torch.zeros(len(texts), self.max_words, dtype=torch.long)
        for i, text in enumerate(texts):
            tokens = [self.word_to_token[w] for w in _WORD.findall(str(text).lower()) if w in self.word_to_token]
            tokens = tokens[: self.max_words]
            if tokens:
                rows[i, : len(tokens)] = torch.tensor(tokens)
        return rows

    def forward(self, texts: list[str]) -> torch.Tensor:
        hidden = F.relu(self.fc1(self.word_embd(self.tokenize(texts).to(self.word_embd.weight.device))))
        return self.fc2(hidden.max(dim=1).values)
