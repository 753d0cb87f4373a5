"""Per-import bookkeeping kept on disk, so that an import's memory does not grow with the
number of pupils in the file.

An import must remember, for each pupil, a few things until the end: the registry ids and
INEs already read (duplicates refuse the whole file), the class of each pupil (a SIECLE
file lists the classes after all the pupils), the pupils found in the database (the others
are deactivated). Held in Python sets and dicts, that was about 320 bytes per pupil.

Each ``Scratch`` is SQLite's private temporary database (an empty file name): pages stay
in a small cache (``CACHE_KIB``) and go to a temporary file, which SQLite deletes when the
connection is closed, once the cache is full. There is no journal and nothing is ever
committed: the data live only as long as the import.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Literal

CACHE_KIB = 2048  # page cache of each scratch database (SQLite's default size)
# SQL below is built with table names made here (t1, t2…), never with data (S608).


class Scratch:
    """One private temporary SQLite database; ``set``/``map``/``sequence`` add tables."""

    def __init__(self) -> None:
        # check_same_thread=False: a web import builds its source in one thread and may
        # finish it in another; never two at a time.
        self._db: sqlite3.Connection | None = sqlite3.connect("", check_same_thread=False)
        for pragma in (
            f"cache_size=-{CACHE_KIB}",
            "journal_mode=OFF",
            "synchronous=OFF",
            "temp_store=FILE",
            "mmap_size=0",  # mapped pages would count in the resident set
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._tables = 0

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("scratch database already closed")
        return self._db

    def _table(self, columns: str, without_rowid: bool = True) -> str:
        self._tables += 1
        name = f"t{self._tables}"
        suffix = " WITHOUT ROWID" if without_rowid else ""
        self.db.execute(f"CREATE TABLE {name} ({columns}){suffix}")
        return name

    def set(self, key_type: Literal["TEXT", "INTEGER"] = "TEXT") -> DiskSet:
        return DiskSet(self, key_type)

    def map(self) -> DiskMap:
        return DiskMap(self)

    def sequence(self) -> DiskSequence:
        return DiskSequence(self)

    def close(self) -> None:
        """Drop everything (SQLite deletes the temporary file)."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DiskSet:
    """A set of strings (or integers, ``key_type="INTEGER"``)."""

    def __init__(self, scratch: Scratch, key_type: Literal["TEXT", "INTEGER"] = "TEXT") -> None:
        self._scratch = scratch
        # An INTEGER PRIMARY KEY is the rowid itself: no separate index.
        integer = key_type == "INTEGER"
        name = scratch._table(f"k {key_type} PRIMARY KEY", without_rowid=not integer)
        self._add = f"INSERT OR IGNORE INTO {name} (k) VALUES (?)"  # noqa: S608
        self._has = f"SELECT 1 FROM {name} WHERE k = ?"  # noqa: S608
        self._cursor = scratch.db.cursor()

    def add(self, key: str | int) -> bool:
        """Add ``key``; False if it was there already."""
        return self._cursor.execute(self._add, (key,)).rowcount == 1

    def update(self, keys: Iterable[str | int]) -> None:
        self._cursor.executemany(self._add, ((k,) for k in keys))

    def __contains__(self, key: object) -> bool:
        return self._cursor.execute(self._has, (key,)).fetchone() is not None


class DiskMap:
    """A mapping of strings to strings; setting a key again replaces its value."""

    def __init__(self, scratch: Scratch) -> None:
        name = scratch._table("k TEXT PRIMARY KEY, v TEXT NOT NULL")
        self._set = f"INSERT OR REPLACE INTO {name} (k, v) VALUES (?, ?)"  # noqa: S608
        self._get = f"SELECT v FROM {name} WHERE k = ?"  # noqa: S608
        self._cursor = scratch.db.cursor()

    def __setitem__(self, key: str, value: str) -> None:
        self._cursor.execute(self._set, (key, value))

    def get(self, key: str, default: str = "") -> str:
        row = self._cursor.execute(self._get, (key,)).fetchone()
        return default if row is None else row[0]


class DiskSequence:
    """Integers in the order they were appended (duplicates kept), read back in chunks."""

    def __init__(self, scratch: Scratch) -> None:
        self._scratch = scratch
        self._name = scratch._table("v INTEGER NOT NULL", without_rowid=False)
        self._append = f"INSERT INTO {self._name} (v) VALUES (?)"  # noqa: S608
        self._cursor = scratch.db.cursor()
        self._length = 0

    def append(self, value: int) -> None:
        self._cursor.execute(self._append, (value,))
        self._length += 1

    def __len__(self) -> int:
        return self._length

    def chunks(self, size: int) -> Iterator[list[int]]:
        """The values in order, ``size`` at a time (do not append while reading)."""
        cursor = self._scratch.db.execute(f"SELECT v FROM {self._name} ORDER BY rowid")  # noqa: S608
        while rows := cursor.fetchmany(size):
            yield [row[0] for row in rows]
