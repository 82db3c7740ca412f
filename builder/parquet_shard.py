"""Write columns as the Parquet file ``datasets`` writes for them, byte for byte, without building a ``Dataset``.

``Dataset.from_dict(columns, features=...).to_parquet(path)`` spent most of its time outside Parquet: building a
``Dataset`` fingerprints it, which pickles and hashes the whole Arrow table, every PNG included (~35 ms of a
~60 ms shard write of 10 samples at 512 px). Here the same table is built directly and handed to the same
``pq.ParquetWriter`` with the options ``datasets.io.parquet.ParquetDatasetWriter`` uses (column options,
content-defined chunking and its metadata key, page index, row-group size), so the file is the one ``datasets``
would write and ``datasets.load_dataset("parquet", ...)`` gives back exactly ``features``.
tests/test_parquet_shard.py compares the bytes with ``to_parquet``'s, with one and several row groups, so a
``datasets`` upgrade that writes differently is caught there rather than in a build's hashes.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import config as datasets_config
from datasets.io.parquet import (
    get_parquet_column_options,
    get_writer_batch_size_from_data_size,
    get_writer_batch_size_from_features,
)

# Dataset._estimate_nbytes looks at this many rows (and scales up) when a table has image columns.
_ESTIMATE_ROWS = 1000


def arrow_table(columns: dict[str, list], features: datasets.Features) -> pa.Table:
    """The Arrow table ``Dataset.from_dict(columns, features=features)`` holds."""
    return pa.Table.from_pydict(features.encode_batch(columns), schema=features.arrow_schema)


def _estimated_nbytes(table: pa.Table, features: datasets.Features) -> int:
    # Dataset._estimate_nbytes for a table whose images are all embedded bytes (no file paths to add): the
    # table's size less its image columns' empty "path" fields, those measured on the first rows and scaled.
    image_columns = [name for name, feature in features.items() if isinstance(feature, datasets.Image)]
    if not image_columns or table.num_rows == 0:
        return table.nbytes
    head = table.slice(0, _ESTIMATE_ROWS)
    paths = sum(chunk.field("path").nbytes for name in image_columns for chunk in head[name].chunks)
    return table.nbytes - paths * table.num_rows // head.num_rows


def write_parquet(columns: dict[str, list], features: datasets.Features, path: str | Path) -> None:
    """``columns`` (one list per feature, images as ``{"bytes", "path"}`` dicts) as ``path``, as ``datasets``
    writes them. Writes ``path`` directly: the caller makes it atomic."""
    table = arrow_table(columns, features)
    schema = features.arrow_schema
    batch_size = (get_writer_batch_size_from_features(features)
                  or get_writer_batch_size_from_data_size(table.num_rows, _estimated_nbytes(table, features)))
    chunking = datasets_config.DEFAULT_CDC_OPTIONS
    with open(path, "wb") as handle:
        writer = pq.ParquetWriter(handle, schema=schema, use_content_defined_chunking=chunking, write_page_index=True,
                                  **get_parquet_column_options(features, schema))
        try:
            for offset in range(0, table.num_rows, batch_size):
                writer.write_table(table.slice(offset, batch_size))
            writer.add_key_value_metadata({"content_defined_chunking": json.dumps(chunking)})
        finally:
            writer.close()

