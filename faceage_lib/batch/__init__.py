"""Many photos at once: the inputs of a run, one result per photo, the output formats, a pool of
worker processes, resuming an interrupted run, the same job on Ray Data, and a summary of results.

``inputs`` -> ``photos`` (one :class:`PhotoResult` per file, never raises) -> ``pool`` (N processes,
input order) -> ``formats`` (json, jsonl, csv, parquet, written as results arrive) with ``resume``;
``job`` ties them together for ``faceage predict``; ``ray_job`` is the cluster engine; ``summary``
reads any of the outputs back for ``faceage summarize``. Ray, pandas and pyarrow are imported only
where used, and nothing in ``inference/`` imports this package.
"""
