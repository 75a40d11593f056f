"""``python -m sim.results [DIR]``: write the JSON Schemas of every report to DIR (default ``docs/schemas``)."""

import sys

from sim.results import REPORTS
from sim.results.schema import write_schemas

for written in write_schemas(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas", REPORTS):
    print(f"wrote {written}")
