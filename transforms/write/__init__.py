"""Write: rows of every table, Parquet files and their commit, what earlier runs stored,
the output lock."""
