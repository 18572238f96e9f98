"""``python -m faceage_lib`` runs the ``faceage`` command."""

import sys

from .cli import main

sys.exit(main())
