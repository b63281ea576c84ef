"""``python -m npprob`` runs the command line."""

import sys

from npprob.cli import main

sys.exit(main())
