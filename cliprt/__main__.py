"""``python -m cliprt`` is the ``cliprt`` command (useful under ``torchrun -m cliprt``)."""

import sys

from cliprt.cli import main

sys.exit(main())
