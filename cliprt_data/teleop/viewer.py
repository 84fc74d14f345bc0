"""Showing the camera image to the person teleoperating: a PNG rewritten every step, and a window where possible."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class ImageViewer:
    """Shows the current camera image: a PNG that is rewritten every step, and a window where possible.

    The PNG is replaced atomically, so an image viewer that reloads it never
    sees half a file. A Tk window opens only with ``window=True``, a display
    and tkinter; otherwise the path is printed once.
    """

    def __init__(
        self, path: Path | None, *, window: bool = False, min_size: int = 256, say: Callable[[str], None] = print
    ) -> None:
        self.path = None if path is None else Path(path)
        self.min_size = min_size
        self._say = say
        self._window: Any = None
        self._told = False
        if window:
            self._window = _TkWindow.try_open(say)

    def show(self, image: np.ndarray, caption: str = "") -> None:
        from PIL import Image

        img = Image.fromarray(np.asarray(image, dtype=np.uint8))
        if min(img.size) < self.min_size:
            scale = int(np.ceil(self.min_size / min(img.size)))
            img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp.png")
            img.save(tmp)
            os.replace(tmp, self.path)
            if not self._told and self._window is None:
                self._say(f"camera image: {self.path} (refreshed every step)")
                self._told = True
        if self._window is not None:
            self._window.show(img, caption)

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None


class _TkWindow:
    def __init__(self, tk: Any) -> None:
        self._tk = tk
        self._root = tk.Tk()
        self._root.title("cliprt teleop")
        self._label = tk.Label(self._root)
        self._label.pack()
        self._photo: Any = None

    @classmethod
    def try_open(cls, say: Callable[[str], None]) -> _TkWindow | None:
        if not os.environ.get("DISPLAY") and os.name != "nt":
            say("no display: the camera image is only saved as a PNG")
            return None
        try:
            import tkinter

            return cls(tkinter)
        except Exception as exc:  # tkinter missing or the display refuses
            say(f"cannot open a window ({exc}); the camera image is only saved as a PNG")
            return None

    def show(self, img: Any, caption: str) -> None:
        from PIL import ImageTk

        self._photo = ImageTk.PhotoImage(img)
        self._label.configure(image=self._photo)
        self._root.title(f"cliprt teleop: {caption}" if caption else "cliprt teleop")
        self._root.update()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._root.destroy()
