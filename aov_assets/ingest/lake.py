"""The raw-order lake: one Parquet file per UTC day, each order's JSON exactly as the source sent it,
and the store's customer groups and store views as of the latest sync.

Keeping the source's bytes (and the lists that the manifest's codes resolve against) makes every
downstream table replayable without the API, and makes a parsing fix a re-materialization instead of
a re-sync. Files are written to a temporary name and renamed into place, so a crashed run never
leaves a half-written day.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import msgspec
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .shopify_orders import gid_number, rest_time

SCHEMA = pa.schema(
    [
        ("entity_id", pa.int64()),
        ("created_at", pa.string()),
        ("updated_at", pa.string()),
        (
            "payload",
            pa.binary(),
        ),  # the source's exact bytes, valid UTF-8 or not (older files hold text; both read the same)
    ]
)
_PAYLOAD = pa.schema([("payload", pa.binary())])  # older files keep text; the scan casts it
_KEY_COLUMNS = ["entity_id", "created_at", "updated_at"]
# Payloads are unique, so a dictionary only costs time, and their min/max statistics put two whole orders in
# every footer that `order_count` reads: both are kept for the key columns only (24.4 instead of 28.6 MB for
# the sample, read about 25% faster; bench/lake_format.py).
_WRITE_OPTIONS = {"compression": "zstd", "use_dictionary": _KEY_COLUMNS, "write_statistics": _KEY_COLUMNS}


class _Keys(msgspec.Struct):
    entity_id: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    id: Any = None  # a Shopify order node: its GID and times (`createdAt`) name the same keys
    createdAt: Any = None  # noqa: N815 - Shopify's names
    updatedAt: Any = None  # noqa: N815


_KEYS = msgspec.json.Decoder(_Keys, strict=False)


def _keys(payload: bytes) -> _Keys:
    """Key columns for browsing the lake; a malformed order keeps nulls here and is judged downstream."""
    try:
        keys = _KEYS.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return _Keys()
    if keys.entity_id is None and isinstance(keys.id, str):  # an `id` of any other order is left alone
        keys.entity_id = gid_number(keys.id)
        keys.created_at, keys.updated_at = (
            rest_time(value) if isinstance(value, str) else None for value in (keys.createdAt, keys.updatedAt)
        )
    if keys.entity_id is not None and not 0 <= keys.entity_id < 2**63:
        keys.entity_id = None  # beyond int64: the order is rejected downstream, with its reason
    return keys


STALE_WRITE_SECONDS = 3600


def _replace(target: Path, write: Any) -> None:
    """`write(temporary path)`, then rename it into place: readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    stale = time.time() - STALE_WRITE_SECONDS  # younger ones may be another run's write in progress
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):  # from a run that was killed mid-write
        with contextlib.suppress(FileNotFoundError):
            if leftover.stat().st_mtime < stale:
                leftover.unlink()
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    write(temporary)
    os.replace(temporary, target)


class StoreListSource(Protocol):
    def customer_groups(self) -> list[dict]: ...

    def store_views(self) -> list[dict]: ...


class StoreLists:
    """The store's customer groups and store views (`{id, code}` rows) as of the latest raw_orders run.

    Classification resolves the manifest's group and store-view codes against these, so reclassifying
    the lake needs no store. Rewritten by every sync: codes resolve as the store names them now.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.exists()

    def save(self, source: StoreListSource) -> None:
        lists = {"customer_groups": _id_codes(source.customer_groups()), "store_views": _id_codes(source.store_views())}
        _replace(self.path, lambda temporary: temporary.write_text(json.dumps(lists, indent=1)))

    def customer_groups(self) -> list[dict]:
        return self._lists()["customer_groups"]

    def store_views(self) -> list[dict]:
        return self._lists()["store_views"]

    def _lists(self) -> dict[str, list[dict]]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not valid JSON"
            raise LakeFileError(
                f"the store's lists {self.path} cannot be read ({reason}); materialize raw_orders for any day "
                "to fetch them again"
            ) from None


def _id_codes(rows: Sequence[Mapping[str, Any]]) -> list[dict]:
    return [{"id": int(row["id"]), "code": str(row["code"])} for row in rows]


class LakeFileError(RuntimeError):
    """A day's Parquet file cannot be read; one line naming the file and how to fetch the day again."""


class RawOrderLake:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def path_for(self, day: date) -> Path:
        return self.root / f"{day.isoformat()}.parquet"

    def has_day(self, day: date) -> bool:
        return self.path_for(day).exists()

    def write_day(self, day: date, payloads: Sequence[bytes], source: str) -> int:
        """Replace the day's file with these orders (raw JSON bytes); returns the order count."""
        keys = [_keys(payload) for payload in payloads]
        table = pa.table(
            {
                "entity_id": pa.array([k.entity_id for k in keys], pa.int64()),
                "created_at": pa.array([k.created_at for k in keys], pa.string()),
                "updated_at": pa.array([k.updated_at for k in keys], pa.string()),
                "payload": pa.array(payloads, pa.binary()),
            },
            schema=SCHEMA.with_metadata(
                {"source": source, "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            ),
        )
        _replace(self.path_for(day), lambda temporary: pq.write_table(table, temporary, **_WRITE_OPTIONS))
        return len(payloads)

    def read_day(self, day: date) -> list[bytes]:
        """The day's raw orders; a day that was never fetched is an error, not an empty day."""
        return self.payloads(day).to_pylist()

    def payloads(self, day: date) -> pa.BinaryArray:
        """The day's raw orders as one Arrow array (no Python object per order); a day that was never
        fetched is an error, not an empty day."""
        if not self.has_day(day):
            raise self._missing(day)
        return self._read(day, "payload").cast(pa.binary()).combine_chunks()

    def payloads_of(self, days: Sequence[date]) -> dict[date, pa.BinaryArray]:
        """Several days' raw orders from one multi-threaded scan of their files (three times faster than
        a day at a time on the sample); an unreadable file is then found and named day by day."""
        sizes = [self.order_count(day) for day in days]  # the footers say where each day's rows end
        if None in sizes:
            raise self._missing(days[sizes.index(None)])
        try:
            files = ds.dataset([str(self.path_for(day)) for day in days], format="parquet", schema=_PAYLOAD)
            payloads = files.to_table(columns=["payload"]).column("payload").combine_chunks()
        except (pa.ArrowException, OSError):
            return {day: self.payloads(day) for day in days}
        bounds = itertools.pairwise([0, *itertools.accumulate(sizes)])
        return {day: payloads[start:end] for day, (start, end) in zip(days, bounds, strict=True)}

    def _missing(self, day: date) -> FileNotFoundError:
        """A day that was never fetched is an error, not an empty day."""
        return FileNotFoundError(
            f"raw_orders has no partition {day} (no {self.path_for(day)}); materialize raw_orders for that day first"
        )

    def days(self) -> list[date]:
        """Every day the lake holds, oldest first."""
        if not self.root.exists():
            return []
        return sorted(date.fromisoformat(path.stem) for path in self.root.glob("????-??-??.parquet"))

    def column(self, day: date, name: str) -> list:
        """One key column of a day (entity_id, created_at or updated_at) without reading payloads."""
        return self._read(day, name).to_pylist()

    def order_count(self, day: date) -> int | None:
        """Orders stored for the day, from the Parquet footer; None if the day was never fetched."""
        path = self.path_for(day)
        if not path.exists():
            return None
        try:
            return pq.read_metadata(path).num_rows
        except (pa.ArrowException, OSError) as error:
            raise self._unreadable(day, error) from None

    def check(self, day: date) -> None:
        """Read the whole day once (raises LakeFileError): `aov doctor` and the checks use it."""
        self._read(day, "payload")

    def _read(self, day: date, column: str) -> pa.ChunkedArray:
        try:
            return pq.read_table(self.path_for(day), columns=[column]).column(column)
        except (pa.ArrowException, OSError) as error:
            raise self._unreadable(day, error) from None

    def _unreadable(self, day: date, error: Exception) -> LakeFileError:
        reason = " ".join(str(error).split())[:160]
        return LakeFileError(
            f"raw_orders file {self.path_for(day)} cannot be read ({reason}); fetch the day again with: "
            f"aov backfill --from {day} --to {day}"
        )

    def fetched_at(self, day: date) -> datetime | None:
        path = self.path_for(day)
        if not path.exists():
            return None
        metadata = pq.read_schema(path).metadata or {}
        value = metadata.get(b"fetched_at")
        return datetime.fromisoformat(value.decode()) if value else None
