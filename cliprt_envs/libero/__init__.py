"""LIBERO behind the language-motion interface (``CLIPRT-LIBERO-<Suite>-v0``).

Nothing here imports LIBERO at import time: :mod:`cliprt_envs.libero.bootstrap`
does, inside the function that first needs it, after writing LIBERO's config
file into our own cache folder (so LIBERO never prompts) and pointing it at the
installed asset wheels (so it never downloads).
"""
