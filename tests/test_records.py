"""Tests of the event log's string columns: categoricals from codes, stacking, Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.records import category_column, concat_tables, join_coded
from tandem.store import write_parquet


def test_category_column_sorts_and_merges_repeated_labels() -> None:
    labels = pa.array(["shipped", "placed", "shipped", "allocated"], type=pa.large_string())
    column = category_column(np.array([0, 1, 2, 3, 0]), labels)
    assert list(column.categories) == ["allocated", "placed", "shipped"]
    assert list(column) == ["shipped", "placed", "shipped", "allocated", "shipped"]


def test_join_coded_categorical_equals_string_column() -> None:
    first = (np.array([1, 0, 1]), pa.array(["b", "a"], type=pa.large_string()))
    second = (np.array([0, 0]), pa.array(["c"], type=pa.large_string()))
    order = np.array([4, 0, 3, 1, 2])
    strings = join_coded([first, second], order)
    categories = join_coded([first, second], order, categorical=True)
    assert isinstance(categories, pd.Categorical)
    assert list(categories) == list(strings) == ["c", "a", "c", "b", "a"]


def test_concat_tables_keeps_categoricals_with_different_categories() -> None:
    one = pd.DataFrame({"node": pd.Categorical(["DC1", "DC2"]), "qty": [1.0, 2.0]})
    two = pd.DataFrame({"node": pd.Categorical(["DC0"]), "qty": [3.0]})
    stacked = concat_tables([one, two])
    assert isinstance(stacked["node"].dtype, pd.CategoricalDtype)
    assert list(stacked["node"].cat.categories) == ["DC0", "DC1", "DC2"]
    assert stacked["node"].tolist() == ["DC1", "DC2", "DC0"]
    # plain pd.concat decodes every row into a string column
    assert not isinstance(pd.concat([one, two])["node"].dtype, pd.CategoricalDtype)


def test_write_parquet_writes_categorical_strings_as_plain_strings(tmp_path: Path) -> None:
    frame = pd.DataFrame({"product": pd.Categorical(["b", "a"]), "qty": [1.0, 2.0]})
    write_parquet(tmp_path / "t.parquet", frame)
    schema = pq.read_schema(tmp_path / "t.parquet")
    assert pa.types.is_string(schema.field("product").type) or pa.types.is_large_string(
        schema.field("product").type
    )
    assert pd.read_parquet(tmp_path / "t.parquet")["product"].tolist() == ["b", "a"]
