"""`python -m lucid_tron.devnet`: serve a devnet until SIGINT or SIGTERM."""

import sys

from lucid_tron.devnet import main

sys.exit(main())
