"""Consistent copies of a live SQLite database."""

import sqlite3
from pathlib import Path


def backup_sqlite(source: str, target: Path) -> int:
    """Copy with SQLite's online backup API: safe while the app keeps writing."""
    if target.exists():
        raise FileExistsError(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target.stat().st_size
