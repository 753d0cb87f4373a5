"""The ``educompte`` operator command: through ``call_command`` and as a real program."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

STRONG = "Motdepasse-solide-2026"
EDUCOMPTE = Path(sys.executable).with_name("educompte")


# --- The real program --------------------------------------------------------------------


def _env(tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "EDUCOMPTE_", "DJANGO_"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'cli.sqlite3'}",
        EDUCOMPTE_VAR_DIR=str(tmp / "var"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def educompte(tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own program, fixed arguments
        [str(EDUCOMPTE), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(tmp),
        cwd=tmp,
        timeout=120,
        check=False,
    )


def _rows(tmp: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(tmp / "cli.sqlite3") as db:
        return db.execute(sql).fetchall()


def test_bad_check_letter_fails_before_touching_any_database(tmp_path):
    bad = educompte(tmp_path, "add-establishment", "0380002A", "Lycée")
    assert bad.returncode != 0
    assert "lettre de contrôle" in bad.stderr
    assert "W" in bad.stderr.split("lettre de contrôle")[1]
    assert "Traceback" not in bad.stderr


def test_operator_session_with_the_real_program(tmp_path):
    """migrate, add-establishment, add-agent --password-stdin, on a SQLite database of its
    own (never the tests' or the developer's)."""
    migrated = educompte(tmp_path, "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr

    good = educompte(tmp_path, "add-establishment", "0380001V", "Collège Jean Moulin")
    assert good.returncode == 0, good.stderr
    assert _rows(tmp_path, "SELECT uai, name FROM schools_establishment") == [
        ("0380001V", "Collège Jean Moulin")
    ]

    agent = educompte(
        tmp_path, "add-agent", "m.dupont", "--uai", "0380001V", "--role", "head",
        "--password-stdin", stdin=STRONG + "\n",
    )  # fmt: skip
    assert agent.returncode == 0, agent.stderr
    [(password,)] = _rows(tmp_path, "SELECT password FROM accounts_user WHERE username='m.dupont'")
    assert password.startswith("argon2$argon2id$")
    assert STRONG not in password
