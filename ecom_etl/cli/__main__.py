import sys

from ecom_etl.cli import main

sys.exit(main())
