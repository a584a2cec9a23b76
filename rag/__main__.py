"""`python -m rag` runs the command line."""

import sys

from rag.app.cli import main

sys.exit(main())
