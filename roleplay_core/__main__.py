"""``python -m roleplay_core`` is the ``roleplay`` command."""

import sys

from .cli import main

sys.exit(main())
