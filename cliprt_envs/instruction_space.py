"""The observation space of instructions, and why it is not a plain ``gymnasium.spaces.Text``.

Gymnasium (1.x) reads a ``Text`` space out of an ``AsyncVectorEnv``'s shared
memory once, when the vector env is built, and returns that same tuple of
strings after every ``reset``/``step``: arrays are live views of the shared
buffer, strings are not. The buffer is still all zeros then, and zero is the
index of the first character of the sorted charset (a space), so every
instruction came back as ``max_length`` spaces.

:class:`InstructionText` is a ``Text`` whose shared-memory reader returns a
live, read-on-access view instead (:class:`SharedInstructions`). Everything
else (sampling, ``contains``, flattening, batching, the env checker) is
Gymnasium's own ``Text``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np
from gymnasium.spaces import Text
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory

#: Longest instruction an env accepts (characters).
MAX_INSTRUCTION_LENGTH = 256

#: Characters an instruction may contain: printable ASCII, printable Latin-1
#: (accented letters, the degree sign) and typographic quotes and dashes that
#: keyboards and phones insert. Tabs and newlines are not allowed.
INSTRUCTION_CHARSET: frozenset[str] = frozenset(
    [chr(c) for c in range(0x20, 0x7F)]
    + [chr(c) for c in range(0xA1, 0x100) if c != 0xAD]
    + list("\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u2022\u20ac")
)


class InvalidInstructionError(ValueError):
    """An instruction the observation space cannot hold (too long or a character outside the charset)."""


class InstructionText(Text):
    """``Text`` for instructions that also survives ``AsyncVectorEnv(shared_memory=True)``."""

    def __init__(
        self, max_length: int = MAX_INSTRUCTION_LENGTH, *, charset: frozenset[str] | str = INSTRUCTION_CHARSET, **kw: Any
    ) -> None:
        kw.setdefault("min_length", 0)
        super().__init__(max_length, charset=charset, **kw)
        self._pad = len(self.character_list)
        # Code point of each charset index, for decoding a whole row at once.
        self._code_points = np.array([ord(c) for c in self.character_list], dtype="<u4")

    def check(self, text: object, what: str = "instruction") -> str:
        """``text`` itself if this space can hold it, else an error that says what to change."""
        if not isinstance(text, str):
            raise TypeError(f"the {what} must be a str, got {type(text).__name__}: {text!r}")
        if len(text) > self.max_length:
            raise InvalidInstructionError(
                f"the {what} has {len(text)} characters; at most {self.max_length} fit the observation space. "
                f"Shorten it: {text[:60]!r}..."
            )
        bad = sorted(set(text) - self.character_set)
        if bad:
            shown = ", ".join(repr(c) for c in bad)
            raise InvalidInstructionError(
                f"the {what} {text!r} contains {shown}, which the instruction space cannot hold; it allows "
                "printable ASCII, Latin-1 letters and typographic quotes/dashes (no tabs or newlines). "
                "Replace or remove those characters."
            )
        return text

    def decode(self, codes: np.ndarray) -> str:
        """The string of one row of charset indexes (padding dropped)."""
        codes = np.asarray(codes)
        return self._code_points[codes[codes < self._pad]].tobytes().decode("utf-32-le")


class SharedInstructions(Sequence[str]):
    """The instructions of every sub-env, decoded from the shared buffer when read.

    ``AsyncVectorEnv`` returns ``deepcopy`` of its observations by default
    (``copy=True``); a deep copy of this view is a plain tuple of strings, the
    same as the sync vector env gives. With ``copy=False`` this live view is
    returned, as NumPy views are for array observations.
    """

    def __init__(self, space: InstructionText, shared_memory: Any, n: int) -> None:
        self._space = space
        self._shared_memory = shared_memory  # keeps the buffer alive
        self._codes = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape(n, space.max_length)

    def __len__(self) -> int:
        return self._codes.shape[0]

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        return self._space.decode(self._codes[index])

    def __iter__(self) -> Iterator[str]:
        return (self._space.decode(row) for row in self._codes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable view

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __copy__(self) -> tuple[str, ...]:
        return tuple(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(self),))


@create_shared_memory.register(InstructionText)
def _create_instruction_shared_memory(space: InstructionText, n: int = 1, ctx: Any = None) -> Any:
    import multiprocessing as mp

    ctx = mp if ctx is None else ctx
    buffer = ctx.Array(np.dtype(np.int32).char, n * space.max_length)
    # Padding everywhere: an env that has not reset yet reads as "", not as spaces.
    np.frombuffer(buffer.get_obj(), dtype=np.int32)[:] = space._pad
    return buffer


@read_from_shared_memory.register(InstructionText)
def _read_instruction_shared_memory(space: InstructionText, shared_memory: Any, n: int = 1) -> SharedInstructions:
    return SharedInstructions(space, shared_memory, n)
