"""The Flex Template's entry point: the template's parameters are `storywire run`'s options.

The launcher passes them as --name=value, with the Dataflow options it adds (project,
region, temp_location, sdk_container_image, ...); the job is submitted and the launcher
returns without waiting for it.
"""

import sys

from storywire.pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "--detach", "--runner=DataflowRunner", *sys.argv[1:]]))
