"""Re-embedding: rebuild a knowledge base whose vectors came from another embedding model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from rag.config import Settings
from rag.errors import InputError
from rag.index.store import WriteLock, _client, get_all
from rag.ingest.build import BUNDLED_PREFIX
from rag.ingest.bundled import bundled_files


def _pending(settings: Settings) -> Path:
    return settings.home / f"rag-{settings.collection}.reembed.json"


def _paths(keys: list[str]) -> list[Path]:
    bundled = {p.name: p for p in bundled_files()}
    out = []
    for key in sorted(set(keys)):
        if key.startswith(BUNDLED_PREFIX):
            if key.removeprefix(BUNDLED_PREFIX) in bundled:
                out.append(bundled[key.removeprefix(BUNDLED_PREFIX)])
        elif key and Path(key).exists():
            out.append(Path(key))
    return out


def drop_for_model(
    settings: Settings, model_id: str, probe: Callable[[], object] | None = None
) -> list[Path]:
    """When the collection was built with another model than `model_id`, drop it and return the
    files it held, to be ingested again with the new model; [] when there is nothing to rebuild.

    `probe` is called first and must work (it embeds a text with the new model): a model that
    cannot be reached raises there, and the knowledge base stays as it was. The list of files is
    written beside the store before the collection is dropped, and read back until `done` is
    called, so a rebuild cut short is finished by the next `--reembed`.
    """
    pending = _pending(settings)
    keys: list[str] = json.loads(pending.read_text(encoding="utf-8")) if pending.exists() else []
    client = _client(settings.home, settings.chroma_url)
    name = f"rag-{settings.collection}"
    try:
        collection = client.get_collection(name)
    except Exception:  # no such collection: nothing stored yet
        return _paths(keys)
    stored = (collection.metadata or {}).get("embedding_model")
    if not stored or stored == model_id:
        return _paths(keys)
    if probe is not None:
        probe()
    with WriteLock(settings.home / f"{name}.lock"):
        metas = get_all(collection, ["metadatas"])["metadatas"]
        documents = {str((m or {}).get("doc_key", "")) for m in metas} - {""}
        gone = sorted(key for key in documents if not _paths([key]))
        if gone:
            raise InputError(
                f"{len(gone)} of the {len(documents)} documents in the knowledge base no longer have their "
                f"file here ({_listed(gone)}): re-embedding reads every document again, so they would be "
                "lost. Put the files back, or remove those documents first (with the model they were "
                "indexed with: rag ingest --prune FOLDER), then re-embed. Nothing was changed."
            )
        keys += sorted(documents)
        pending.parent.mkdir(parents=True, exist_ok=True)
        pending.write_text(json.dumps(sorted(set(keys)), ensure_ascii=False), encoding="utf-8")
        client.delete_collection(name)
    return _paths(keys)


def _listed(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def done(settings: Settings) -> None:
    """Forget the files of a finished rebuild."""
    _pending(settings).unlink(missing_ok=True)
