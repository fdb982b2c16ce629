import sys

from lucid_tron.healthcheck import main

sys.exit(main())
