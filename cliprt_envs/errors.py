"""The one error type every package raises for a missing optional extra.

``cliprt``'s entry point prints it in one line (its message says what to
``pip install``), like a bad input, instead of a traceback. It is an
ImportError, so ``except ImportError`` still catches it. It lives here, in
the package every other one builds on, so that envs, data and agents raise
the same type.
"""

from __future__ import annotations


class MissingExtraError(ImportError):
    """An optional dependency (an extra of ``cliprt``) is not installed; the message names the ``pip install``."""
