"""Query vectors embedded ahead, on a background thread, in the order they will be asked for.

A question's search and answer embed several texts one after the other: the question, what it
asks once a clause naming its document is set aside, each part of a question that asks two things,
a part's last asking sentence. Each is a 30–80 ms embedding, and between them the passages of the
previous one are searched and scored. Started ahead, the texts are embedded back to back while
that work goes on (the model runs outside Python's lock), and whoever asks for one waits for it
rather than embedding it again. The vectors are the embedder's own, whichever thread computes them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from rag.index.embed import Embedder

# vectors of recent texts kept once embedded (a question asks for a few, some of them twice)
KEPT = 64


class AheadEmbedder:
    """An embedder whose query vectors can be started ahead (`start`); everything else is the
    wrapped embedder's."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._worker: ThreadPoolExecutor | None = None  # made when something is first started
        self._jobs: dict[str, Future[np.ndarray]] = {}
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        return self.embedder.embed_passages(texts, progress)

    def embed_query(self, text: str) -> np.ndarray:
        """The query vector: the one started ahead when there is one, else embedded now."""
        with self._lock:
            job = self._jobs.get(text)
        if job is None:
            return self.embedder.embed_query(text)
        try:
            return job.result()
        except Exception:  # not kept: the next question asks the embedder again
            with self._lock:
                if self._jobs.get(text) is job:
                    del self._jobs[text]
            raise

    def start(self, texts: Iterable[str]) -> None:
        """Embed these texts on the background thread, in this order (those already started are not
        started again). The `KEPT` latest are kept; older ones are let go once finished."""
        with self._lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-query-vectors")
            for text in texts:
                if text not in self._jobs:
                    self._jobs[text] = self._worker.submit(self._embed, text)
            finished = [text for text, job in self._jobs.items() if job.done()]
            for text in finished[: max(0, len(self._jobs) - KEPT)]:
                del self._jobs[text]

    def _embed(self, text: str) -> np.ndarray:
        """On the background thread: the query vector."""
        return self.embedder.embed_query(text)


def ahead(embedder: Embedder | None) -> AheadEmbedder | None:
    """The embedder able to embed ahead (itself when it is one already; None for None)."""
    if embedder is None or isinstance(embedder, AheadEmbedder):
        return embedder
    return AheadEmbedder(embedder)
