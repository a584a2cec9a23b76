"""jieba with its dictionary read from an indexed file, word by word, instead of loaded whole.

jieba loads its 350,000-word dictionary (half a million entries with prefixes) into a dict before
it cuts anything, and its tagger reads the dictionary file once more for the part-of-speech flags:
1-2 s of every process start, for a question that looks up a few hundred entries. Here both tables
are kept in one SQLite file, written once from jieba's own dictionary (in the user's cache folder,
named after jieba's version and its dictionary file) by a process of its own that the first process
to need it starts (that one loads the dictionary as usual), and jieba's tokenizer and tagger are given
read-only mappings over it: each entry is read when first asked for and kept. The words, their
frequencies and flags are jieba's own, so the cuts are the same as with the loaded dictionary.

Reading word by word is slower per word than a loaded dictionary: a process that goes on to cut a
lot of text (ingestion, a server answering many questions) loads the whole dictionary once it has
read UPGRADE_AFTER entries, from a marshal file written beside the SQLite one.

Without a writable cache folder, or if anything about the file is off, jieba loads its dictionary
as usual.
"""

from __future__ import annotations

import hashlib
import io
import logging
import marshal
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger("rag")
FORMAT = 1  # bump when the file's layout changes
UPGRADE_AFTER = 20_000  # entries read one by one before the whole dictionary is loaded (a question: ~3,000)


class Lookup(Mapping[str, Any]):
    """A read-only mapping over one table of the dictionary file; entries are kept once read."""

    def __init__(
        self, db: sqlite3.Connection, lock: threading.Lock, table: str, busy: Callable[[], None] | None = None
    ) -> None:
        self._db = db
        self._busy = busy  # called once, after UPGRADE_AFTER reads
        self._reads = 0
        self._lock = lock
        self._query = f"SELECT value FROM {table} WHERE key = ?"
        self._table = table
        self._seen: dict[str, Any] = {}

    def _read(self, key: str) -> Any:
        try:
            return self._seen[key]
        except KeyError:
            pass
        if not isinstance(key, str):
            return None
        with self._lock:
            row = self._db.execute(self._query, (key,)).fetchone()
        value = row[0] if row else None
        self._reads += 1
        if self._reads >= UPGRADE_AFTER and self._busy is not None:
            busy, self._busy = self._busy, None
            busy()
        if len(self._seen) < 2_000_000:  # bounded: a long ingestion asks for many strings
            self._seen[key] = value
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._read(key)
        return default if value is None else value

    def __getitem__(self, key: str) -> Any:
        value = self._read(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._read(key) is not None

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            keys = [k for (k,) in self._db.execute(f"SELECT key FROM {self._table}")]
        return iter(keys)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM {self._table}").fetchone()[0])


def cache_folder() -> Path:
    """Where the dictionary file is kept: $XDG_CACHE_HOME/rag, else ~/.cache/rag."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base).expanduser() / "rag"


def _file_for(jieba: ModuleType) -> Path:
    return cache_folder() / f"jieba-{_stamp(jieba)}.sqlite"


def _stamp(jieba: ModuleType) -> str:
    custom = jieba.dt.dictionary  # None for jieba's own dictionary
    source = Path(custom) if custom else Path(str(jieba.__file__)).parent / jieba.DEFAULT_DICT_NAME
    stat = source.stat()
    stamp = f"{FORMAT}\0{jieba.__version__}\0{source}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(stamp.encode()).hexdigest()[:16]


def dictionary_stamp() -> str:
    """What tells jieba's dictionary apart (its version and file): for tables made from it."""
    import jieba

    return _stamp(jieba)


def _build(jieba: ModuleType, path: Path) -> None:
    """Write the dictionary file from jieba's fully loaded dictionary and tagger (once)."""
    jieba.dt.initialize()
    tags = import_module("jieba.posseg").dt.word_tag_tab
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(str(tmp))
    try:
        db.execute("CREATE TABLE freq (key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID")
        db.execute("CREATE TABLE tag (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID")
        db.executemany("INSERT INTO freq VALUES (?, ?)", jieba.dt.FREQ.items())
        db.executemany("INSERT INTO tag VALUES (?, ?)", tags.items())
        db.execute("INSERT INTO meta VALUES ('total', ?)", (jieba.dt.total,))
        db.commit()
    finally:
        db.close()
    tmp.replace(path)
    whole = _whole_file(path)
    tmp = whole.with_name(f"{whole.name}.{os.getpid()}.tmp")
    tmp.write_bytes(marshal.dumps((jieba.dt.FREQ, jieba.dt.total, tags)))
    tmp.replace(whole)


def _whole_file(path: Path) -> Path:
    return path.with_suffix(".marshal")


def _load_whole(jieba: ModuleType, path: Path) -> None:
    """Give jieba the whole dictionary (for a process that cuts a lot); best effort."""
    try:
        freq, total, tags = marshal.loads(_whole_file(path).read_bytes())
    except (OSError, ValueError, EOFError, TypeError) as exc:
        log.debug("jieba's dictionary stays read word by word: %s", exc)
        return
    posseg = import_module("jieba.posseg")
    with jieba.dt.lock:
        jieba.dt.FREQ, jieba.dt.total = freq, total
        posseg.dt.word_tag_tab = tags


def _attach(jieba: ModuleType, path: Path) -> bool:
    """Give jieba's tokenizer and tagger the file's tables; False when the file cannot be used."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        total = db.execute("SELECT value FROM meta WHERE key = 'total'").fetchone()
    except sqlite3.Error:
        return False
    if not total:
        db.close()
        return False
    lock = threading.Lock()
    tokenizer = jieba.dt
    with tokenizer.lock:
        tokenizer.FREQ = Lookup(db, lock, "freq", busy=lambda: _load_whole(jieba, path))
        tokenizer.total = int(total[0])
        tokenizer.initialized = True
        # the tagger reads the whole dictionary file as it is imported: give it an empty one
        tokenizer.get_dict_file = lambda: io.BytesIO(b"")
        try:
            posseg = import_module("jieba.posseg")
        finally:
            del tokenizer.get_dict_file
        posseg.dt.word_tag_tab = Lookup(db, lock, "tag")
    return True


def _start_builder() -> None:
    """Write the dictionary files in a process of their own, so that the first question of a new
    installation does not wait for them."""
    import subprocess

    try:
        subprocess.Popen(
            [sys.executable, "-m", "rag.text.jieba_dict"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        log.debug("jieba's dictionary file is not written: %s", exc)


def build() -> None:
    """Write the dictionary files unless they are there or another process is writing them."""
    import fcntl

    import jieba

    jieba.setLogLevel(logging.WARNING)
    path = _file_for(jieba)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name("jieba.build.lock"), "w") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another process is writing them
        if not (path.exists() and _whole_file(path).exists()):
            _build(jieba, path)


def load() -> ModuleType:
    """jieba, ready to cut and tag, with its dictionary read as needed (see the module docstring)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    if jieba.dt.initialized or "jieba.posseg" in sys.modules:
        jieba.initialize()  # already loaded the usual way in this process: keep it
        return jieba
    try:
        path = _file_for(jieba)
        if not path.exists() or not _whole_file(path).exists():
            _start_builder()  # for the next processes; this one loads the dictionary whole, below
        elif _attach(jieba, path):
            return jieba
    except (OSError, sqlite3.Error) as exc:
        log.debug("jieba's dictionary is loaded whole: %s", exc)
    jieba.initialize()
    return jieba


if __name__ == "__main__":
    build()
