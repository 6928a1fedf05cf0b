"""Read: find input files, read them into records, decode bytes, one record per id."""
