"""Where the chat UI keeps uploaded documents: under their own names without replacing another
document, moved out of Gradio's temporary folder, and what cut-off uploads leave behind cleaned up."""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import time
from pathlib import Path

from rag.config import PARTIAL_UPLOAD_SECONDS
from rag.errors import InputError


def _same_bytes(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and filecmp.cmp(a, b, shallow=False)


def gradio_temp() -> Path:
    """Gradio's folder of temporary files, where uploads arrive (set by `import_gradio`)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or "/nonexistent").resolve()


def place(upload: Path, target: Path) -> None:
    """Put an upload at `target`: Gradio's temporary copy is moved (a rename reads nothing, and the
    copy would be deleted anyway), any other file copied (it stays where it is)."""
    if not upload.is_symlink() and upload.resolve().is_relative_to(gradio_temp()):
        with contextlib.suppress(OSError):  # on another file system: copied instead
            os.replace(upload, target)
            return
    shutil.copyfile(upload, target)


def upload_target(folder: Path, upload: Path, tries: int = 1000) -> Path:
    """Where an upload is kept: under its own name, unless a different file of that name is there
    already (then "name (2).ext", "name (3).ext", …: both documents stay, each with its own name).
    The same file uploaded again goes where it went before, so it is recognised as unchanged."""
    stem, suffix = upload.stem, upload.suffix
    for n in range(1, tries + 1):
        target = folder / (upload.name if n == 1 else f"{stem} ({n}){suffix}")
        if not target.exists() or _same_bytes(target, upload):
            return target
    raise InputError(f"There are already {tries} different uploads named {upload.name!r}: rename the file.")


def discard_partial_uploads(temp: Path, older_than: float = PARTIAL_UPLOAD_SECONDS) -> list[Path]:
    """Delete the files uploads that were cut off (refused, or the client went away) left in Gradio's
    temporary folder: Gradio writes each upload to a `tmp…` file there and moves it into a folder of
    its own once complete. Only those not written for `older_than` seconds: an upload may still be
    arriving. Returns what was deleted."""
    gone: list[Path] = []
    if not temp.is_dir():
        return gone
    now = time.time()
    for path in temp.glob("tmp*"):
        try:
            if path.is_file() and not path.is_symlink() and now - path.stat().st_mtime >= older_than:
                path.unlink()
                gone.append(path)
        except OSError:
            pass
    return gone
