"""Directory structures: symbolic links (loops, links out of the folder, broken ones, links to links)
never crash an ingest, and no file outside the folders given is read."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag import Assistant, Settings
from rag.ingest.load import NOT_FOLLOWED, walk_files

pytestmark = pytest.mark.reliability
Record = Callable[..., Any]

FACT = "蓝鲸公司在2030年建成了一座海底数据中心，功率为42兆瓦。\n"
SECRET = "root:x:0:0:秘密口令在这里:/root:/bin/bash\n"

# A tree: folders and files under the root, then links from places in it to targets anywhere:
# inside (files, folders, the root, a parent: loops), outside (a secret file, a secret folder, /),
# nowhere (broken), or another link.
NAMES = st.sampled_from(["a", "b", "c", "d.txt", "e.md", "f.html", ".hidden.txt", "g.docx"])
ENTRY = st.tuples(st.lists(NAMES, min_size=1, max_size=3), st.sampled_from(["dir", "file"]))
TARGETS = st.sampled_from(
    [
        "inside-file",
        "inside-dir",
        "root",
        "parent",
        "self",
        "secret-file",
        "secret-dir",
        "/",
        "broken",
        "link",
    ]
)
LINK = st.tuples(st.lists(NAMES, min_size=1, max_size=3), TARGETS, st.integers(0, 20))


def _build(base: Path, entries: list[tuple[list[str], str]], links: list[tuple[list[str], str, int]]) -> Path:
    root = base / "root"
    root.mkdir()
    outside = base / "outside"
    outside.mkdir()
    (outside / "passwd.txt").write_text(SECRET, encoding="utf-8")
    (base / "secret.txt").write_text(SECRET, encoding="utf-8")
    made: list[Path] = [root]
    for parts, kind in entries:
        path = root.joinpath(*parts)
        if path.exists() or path.is_symlink() or not path.parent.is_dir():
            continue
        if kind == "dir":
            path.mkdir()
        else:
            path.write_text(FACT, encoding="utf-8")
        made.append(path)
    for parts, target, pick in links:
        path = root.joinpath(*parts)
        if path.exists() or path.is_symlink() or not path.parent.is_dir():
            continue
        to = {
            "inside-file": made[pick % len(made)],
            "inside-dir": made[pick % len(made)].parent,
            "root": root,
            "parent": path.parent,
            "self": path,
            "secret-file": base / "secret.txt",
            "secret-dir": outside,
            "/": Path("/"),
            "broken": base / "nowhere" / "gone.txt",
            "link": next((p for p in reversed(made) if p.is_symlink()), path),
        }[target]
        path.symlink_to(to)
        made.append(path)
    return root


def _outside(path: Path, root: Path) -> bool:
    real = os.path.realpath(path)
    top = os.path.realpath(root)
    return not (real == top or real.startswith(top + os.sep))


@settings(max_examples=150)
@given(
    entries=st.lists(ENTRY, max_size=12),
    links=st.lists(LINK, min_size=1, max_size=8),
    follow=st.booleans(),
)
def test_any_tree_of_links_lists_only_files_inside(
    entries: list[tuple[list[str], str]],
    links: list[tuple[list[str], str, int]],
    follow: bool,
    record: Record,
) -> None:
    with record("directory structures -> files listed") as counter, tempfile.TemporaryDirectory() as tmp:
        root = _build(Path(tmp), entries, links)
        files, skipped = walk_files([root], follow_links=follow)
        counter.faults += sum(1 for p in root.rglob("*") if p.is_symlink())
        assert not [p for p in files if _outside(p, root)]
        assert len(set(map(os.path.realpath, files))) == len(files) or follow  # no file twice unless linked
        if not follow:
            assert not [p for p in files if p.is_symlink() or any(q.is_symlink() for q in p.parents)]
        assert all(isinstance(why, str) and why for why in skipped.values())
        counter.outcomes["links reported"] = int(counter.outcomes.get("links reported", 0)) + len(skipped)


def test_a_link_loop_and_links_out_do_not_stop_or_leak_an_ingest(
    assistant: Assistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record: Record
) -> None:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "fact.md").write_text(FACT, encoding="utf-8")
    (tmp_path / "passwd.txt").write_text(SECRET, encoding="utf-8")
    (root / "passwd.txt").symlink_to(tmp_path / "passwd.txt")  # a link out of the folder
    (root / "loop.txt").symlink_to(root / "loop.txt")  # a link to itself: resolve() raised
    (root / "sub" / "up").symlink_to(root)  # a folder loop
    (root / "same.md").symlink_to(root / "fact.md")  # inside: followed only when allowed
    with record("directory structures -> ingest") as counter:
        counter.faults += 4
        a = Assistant(
            Settings(home=tmp_path / "home", llm=None),
            embedder=assistant.embedder,
            bundled=False,
            show_progress=False,
        )
        report = a.ingest([root])
        assert report.added == ["fact.md"]
        assert report.skipped[str(root / "passwd.txt")] == NOT_FOLLOWED
        assert report.skipped[str(root / "loop.txt")] == NOT_FOLLOWED
        assert not [d for d in a.documents() if "passwd" in d.source]
        assert all("秘密" not in c.text for c in a.ask("秘密口令是什么？").citations)

        monkeypatch.setenv("RAG_FOLLOW_LINKS", "1")  # allowed: inside yes, outside still no
        a.settings = Settings(home=tmp_path / "home", llm=None)  # settings are read when made
        assert a.settings.follow_links
        report = a.ingest([root])
        assert "outside the folder" in report.skipped[str(root / "passwd.txt")]
        assert "loop" in report.skipped[str(root / "loop.txt")]
        assert report.unchanged == ["fact.md"]  # same.md is fact.md: one document
        assert [d.source for d in a.documents()] == ["fact.md"]


def test_a_link_named_directly_is_read(assistant: Assistant, tmp_path: Path) -> None:
    (tmp_path / "fact.md").write_text(FACT, encoding="utf-8")
    (tmp_path / "named.md").symlink_to(tmp_path / "fact.md")
    (tmp_path / "loop.md").symlink_to(tmp_path / "loop.md")
    a = Assistant(
        Settings(home=tmp_path / "home", llm=None),
        embedder=assistant.embedder,
        bundled=False,
        show_progress=False,
    )
    report = a.ingest([tmp_path / "named.md", tmp_path / "loop.md"])
    assert report.added == ["named.md"]
    assert "could not be read" in report.skipped[str(tmp_path / "loop.md")]
