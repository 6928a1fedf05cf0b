"""Write the Flex Template's metadata.json from storywire's own options.

    python deploy/dataflow/make_metadata.py

The template's parameters are exactly `storywire run`'s options (StorywireOptions), with
their help as help text; tests/test_deploy.py checks the committed file against this.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from storywire.pipeline.options import StorywireOptions

METADATA = Path(__file__).resolve().parent / "metadata.json"
# What a scheduled job must be told; everything else has a default.
REQUIRED = {"input", "output"}
PATTERNS = {"input": "^gs://.+", "output": "^gs://.+"}


def metadata() -> dict:
    parser = argparse.ArgumentParser(add_help=False)
    StorywireOptions._add_argparse_args(parser)
    parameters = []
    for action in parser._actions:
        name = action.dest
        default = action.default[0] if isinstance(action.default, list) else action.default
        help_text = action.help if name in REQUIRED else f"{action.help} Default: {default}."
        parameter = {
            "name": name,
            "label": name.replace("_", " ").capitalize(),
            "helpText": help_text,
            "isOptional": name not in REQUIRED,
        }
        if name in PATTERNS:
            parameter["regexes"] = [PATTERNS[name]]
        parameters.append(parameter)
    return {
        "name": "storywire",
        "description": "storywire batch run: clean, fingerprint and story-tag news articles "
                       "from Cloud Storage into Hive-partitioned Parquet; a run into an "
                       "output that holds tables adds its new articles.",
        "parameters": parameters,
    }


def main() -> int:
    METADATA.write_text(json.dumps(metadata(), indent=2) + "\n")
    print(f"wrote {METADATA}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
