"""educompte.registry.scratch: what the import keeps on disk (sets and maps of keys)."""

from __future__ import annotations

import sqlite3

import pytest

from educompte.registry.scratch import Scratch

# --- The scratch database -----------------------------------------------------------------


def test_disk_set_says_whether_a_key_is_new():
    with Scratch() as scratch:
        ids, numbers = scratch.set(), scratch.set("INTEGER")
        assert ids.add("4001") is True
        assert ids.add("4001") is False
        assert "4001" in ids and "4002" not in ids
        ids.update(["4002", "4001", "4003"])
        assert "4003" in ids and ids.add("4002") is False
        numbers.update(range(5))
        assert numbers.add(3) is False and numbers.add(7) is True
        assert 4 in numbers and "4" not in ids


def test_disk_map_keeps_the_last_value_and_sequence_its_order():
    with Scratch() as scratch:
        classes = scratch.map()
        classes["4001"] = "3A"
        classes["4001"] = "3B"
        assert classes.get("4001") == "3B"
        assert classes.get("4002") == "" and classes.get("4002", "?") == "?"
        absent = scratch.sequence()
        for value in [9, 3, 7, 3, 1]:
            absent.append(value)
        assert len(absent) == 5
        assert list(absent.chunks(2)) == [[9, 3], [7, 3], [1]]


def test_scratch_is_gone_once_closed():
    scratch = Scratch()
    seen = scratch.set()
    seen.add("x")
    scratch.close()
    scratch.close()  # twice is harmless
    with pytest.raises(sqlite3.ProgrammingError):
        seen.add("y")
    with pytest.raises(RuntimeError):
        scratch.set()
