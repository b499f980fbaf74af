"""`python -m explore ...` runs the command line."""

import sys

from explore.cli import main

sys.exit(main())
