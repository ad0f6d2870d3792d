#!/usr/bin/python3
"""mkconfig.py BASE_JSON EXTRA_JSON TMP: prints BASE with EXTRA's top-level keys added (taps),
every "@TMP@" in EXTRA replaced by TMP (the test's scratch directory)."""
import json
import sys

base = json.load(open(sys.argv[1]))
extra = json.loads(open(sys.argv[2]).read().replace("@TMP@", sys.argv[3]))
base.update(extra)
print(json.dumps(base, indent=1))
