"""The peer's equivalent pipeline, for benchmarks/throughput.py: datatrove's JSONL reader,
its Trafilatura extractor and its Parquet writer, on the same files, as local tasks.

    python benchmarks/peer_datatrove.py INPUT_FOLDER OUTPUT_FOLDER TASKS

Runs in a virtual environment of its own (datatrove pins versions of its own); prints one
JSON line: documents written, seconds from start to end (imports included).
"""

from __future__ import annotations

import json
import sys
import time

STARTED = time.time()


def main(source: str, output: str, tasks: int) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import ParquetWriter

    executor = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(source, text_key="html", id_key="id", glob_pattern="*.jsonl"),
            # As storywire calls it: precision mode, tables kept, no paragraph cache
            # across documents (which empties repeated pages).
            Trafilatura(favour_precision=True, deduplicate=False, timeout=30.0),
            ParquetWriter(output),
        ],
        tasks=tasks,
        workers=tasks,
        logging_dir=f"{output}/logs",
    )
    executor.run()
    import pyarrow.dataset as ds

    written = ds.dataset(output, format="parquet", exclude_invalid_files=True).count_rows()
    print(json.dumps({"documents": written, "seconds": time.time() - STARTED}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
