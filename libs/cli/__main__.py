"""`python -m lucid_tron.cli`: the `lucid-tron` command without the console script."""

import sys

from lucid_tron.cli import main

sys.exit(main())
