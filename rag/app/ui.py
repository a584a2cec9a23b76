"""The web UI (`rag serve`): a Gradio chat with clickable citations, documents and uploads.

Gradio is imported only here and only when the UI is built, so the command line stays fast.
The handlers live in `ChatHandlers` (plain Python, testable without a server); `build_app` wires
them to Gradio components and `launch` starts the server with the safety settings.
"""

from __future__ import annotations

import inspect
import logging
import os
import stat
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rag.app.render import (
    CSS,
    EXAMPLES,
    HEAD,
    render_answer,
    render_badge,
    render_documents,
    render_error,
    render_hint,
    render_partial,
    render_pending,
    render_upload,
    render_user,
)
from rag.app.uploads import discard_partial_uploads, gradio_temp, place, upload_target
from rag.errors import InputError, RagError
from rag.ingest.build import copy_reason
from rag.ingest.load import SUFFIXES, real_path, size_text
from rag.schema import Answer, IngestReport

if TYPE_CHECKING:
    import gradio as gr

    from rag.assistant import Assistant

log = logging.getLogger("rag.app.ui")

MODES = ("hybrid", "dense", "bm25")
CONCURRENCY = 4  # questions answered at once; the rest wait in the queue
QUEUE_SIZE = 100
INSTALL_HINT = (
    "The web UI needs gradio, which is installed with rag-cited but missing here: "
    "pip install 'gradio>=6,<7' (or reinstall rag-cited)"
)
EMPTY_HINT = "Type a question first — or click one of the examples below."
Message = dict[str, Any]
Turn = dict[str, str]


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call fn with the keyword arguments it accepts (the assistant's API is still growing)."""
    return fn(*args, **{k: v for k, v in kwargs.items() if _accepts(fn, k)})


def mode_label(assistant: Assistant) -> str:
    """What writes the answers: the extractive answerer or the LLM (by model name)."""
    llm = getattr(assistant.settings, "llm", None)
    if llm is None:
        return "Extractive · offline, quotes the documents"
    return f"LLM · {getattr(llm, 'model', 'configured model')}"


class ChatHandlers:
    """What the UI's events do, on one assistant."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.upload_dir = assistant.settings.home / "uploads"
        self._upload_lock = threading.Lock()

    # -- chat ---------------------------------------------------------------------------------------

    def _pieces(self, question: str, turns: list[Turn], k: int, mode: str) -> Iterator[str | Answer]:
        """Text pieces then the Answer: streamed when the assistant can, follow-ups through chat()."""
        a = self.assistant
        stream = getattr(a, "stream", None)
        chat = getattr(a, "chat", None)
        if turns and stream is not None and _accepts(stream, "history"):
            yield from _call(stream, question, history=list(turns), k=k, mode=mode)
        elif turns and chat is not None:
            yield _call(chat, list(turns), question, k=k, mode=mode)
        elif stream is not None:
            yield from _call(stream, question, k=k, mode=mode)
        else:
            yield a.ask(question, k=k, mode=mode)

    def respond(
        self,
        message: str | None,
        history: list[Message] | None,
        turns: list[Turn] | None,
        top_k: float,
        mode: str,
    ) -> Iterator[tuple[str, list[Message], list[Turn], str]]:
        """Answer one chat message, yielding (input box, chat, conversation, status) as it streams."""
        history = list(history or [])
        turns = list(turns or []) if history else []  # a cleared chat starts a new conversation
        question = (message or "").strip()
        if not question:
            yield message or "", history, turns, render_hint(EMPTY_HINT)
            return
        k = max(1, min(self.assistant.settings.max_passages, int(top_k or self.assistant.settings.top_k)))
        mode = mode if mode in MODES else self.assistant.settings.mode
        message_id = uuid.uuid4().hex[:10]
        asked = [*history, {"role": "user", "content": render_user(question)}]
        yield "", [*asked, {"role": "assistant", "content": render_pending()}], turns, ""
        text = ""
        answer: Answer | None = None
        try:
            for piece in self._pieces(question, turns, k, mode):
                if isinstance(piece, Answer):
                    answer = piece
                elif piece:
                    text += str(piece)
                    yield "", [*asked, {"role": "assistant", "content": render_partial(text)}], turns, ""
        except InputError as exc:  # e.g. too long: give the question back to edit
            yield message or "", history, turns, render_hint(str(exc))
            return
        except RagError as exc:
            yield "", [*asked, {"role": "assistant", "content": render_error(str(exc))}], turns, ""
            return
        except Exception:
            log.exception("answering %r failed", question)
            error = "Something went wrong while answering; the details are in the server log."
            yield "", [*asked, {"role": "assistant", "content": render_error(error)}], turns, ""
            return
        if answer is None:
            answer = Answer(question=question, text=text)
        turns = [*turns, {"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
        yield "", [*asked, {"role": "assistant", "content": render_answer(answer, message_id)}], turns, ""

    # -- documents ----------------------------------------------------------------------------------

    def documents_html(self) -> str:
        """The documents table (or a message when the knowledge base cannot be read)."""
        try:
            return render_documents(self.assistant.documents())
        except Exception:
            log.exception("listing documents failed")
            return render_hint("The document list could not be read; see the server log.", "refused")

    def refusal(self, path: Path) -> str:
        """Why an uploaded file cannot be added as far as its type and size tell, or "" when it may
        be. Nothing of it is read here: what only its contents tell (empty, binary, too long to
        read in time) is said by ingestion, which reads it once."""
        if path.suffix.lower() not in SUFFIXES:
            kind = path.suffix or "(no extension)"
            return f"unsupported file type {kind}; supported: {', '.join(SUFFIXES)}"
        try:
            info = path.stat()
        except OSError as exc:
            return f"it could not be read ({exc.strerror or exc})"
        size, limit = info.st_size, self.assistant.settings.max_file_bytes
        if not stat.S_ISREG(info.st_mode):
            return "it is not a regular file"
        if size <= limit:
            return ""
        said, most = size_text(size), size_text(limit)
        if said == most:  # just over: "20 MB, over the 20 MB limit" would say nothing
            said, most = f"{size:,} bytes", f"{most} ({limit:,} bytes)"
        return f"it is {said}, over the {most} limit"

    def upload(self, files: list[str] | str | None, progress: Callable[..., Any]) -> tuple[str, str, None]:
        """Add uploaded files to the knowledge base; returns (result message, documents, cleared input)."""
        paths = [Path(files)] if isinstance(files, str) else [Path(f) for f in files or []]
        if not paths:
            return render_hint("Choose one or more files first."), self.documents_html(), None
        refused: list[tuple[str, str]] = []
        accepted: list[Path] = []
        for i, path in enumerate(paths):
            progress((i, len(paths)), desc=f"Checking {path.name}")
            why = self.refusal(path)
            if why:
                refused.append((path.name, why))
            else:
                accepted.append(path)
        report = None
        try:
            if accepted:
                with self._upload_lock:
                    report = self._ingest(accepted, refused, progress)
        except RagError as exc:
            refused += [(p.name, str(exc)) for p in accepted]
        except Exception:
            log.exception("ingesting uploads failed")
            refused += [(p.name, "indexing failed; see the server log") for p in accepted]
        finally:
            self._discard(paths)
        done = report if report and (report.added or report.updated or report.unchanged) else None
        return render_upload(done, refused), self.documents_html(), None

    def _ingest(self, uploads: list[Path], refused: list[tuple[str, str]], progress: Any) -> IngestReport:
        """Keep the uploads in the uploads folder and ingest them from there, which reads each once;
        those ingestion refuses go to `refused`, and are not kept if they were put there now."""
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        kept: dict[str, tuple[Path, Path, bool]] = {}  # by path: where kept, the upload, put there now
        for path in uploads:
            target = upload_target(self.upload_dir, path)
            if new := not target.exists():
                place(path, target)
            kept.setdefault(str(real_path(target)), (target, path, new))
        progress((0, len(kept)), desc=f"Indexing {len(kept)} file(s)")
        report = self.assistant.ingest([target for target, _, _ in kept.values()])
        for key, why in report.skipped.items():
            target, upload, new = kept.get(str(real_path(Path(key))), (Path(key), Path(key), False))
            if copy := report.copies.get(key):
                why = copy_reason(Path(copy).name)  # the name the user gave, not the server's path
            refused.append((upload.name, why))
            if new:
                target.unlink(missing_ok=True)
        return report

    def _discard(self, paths: list[Path]) -> None:
        """Delete Gradio's temporary copies of the uploads (never anything outside its folder), and
        what uploads cut off before they were complete left there."""
        temp = gradio_temp()
        discard_partial_uploads(temp)
        for path in paths:
            try:
                if path.resolve().is_relative_to(temp):
                    path.unlink(missing_ok=True)
                    if path.parent.resolve() != temp and not any(path.parent.iterdir()):
                        path.parent.rmdir()
            except OSError:
                pass


def import_gradio(home: Path) -> ModuleType:
    """Gradio, imported with analytics off, offline, and its temporary files under `home`."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_OFFLINE"] = "1"
    temp = home / "ui-tmp"
    temp.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(temp.resolve())
    try:
        import gradio
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return gradio


def build_app(assistant: Assistant) -> gr.Blocks:
    """The Gradio app (not started) on one assistant."""
    gr = import_gradio(assistant.settings.home)
    h = ChatHandlers(assistant)
    settings = assistant.settings
    limit = size_text(settings.max_file_bytes)

    def on_upload(files: list[str] | None, progress: Any = gr.Progress()) -> tuple[str, str, None]:  # noqa: B008
        return h.upload(files, progress)

    with gr.Blocks(title="rag — answers with their sources", analytics_enabled=False) as app:
        gr.HTML(render_badge(mode_label(assistant)), elem_id="rag-header")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    show_label=False,  # a floating label would cover the top message
                    elem_id="rag-chat",
                    height=560,
                    latex_delimiters=[],
                    sanitize_html=True,
                    buttons=["copy"],
                    feedback_options=None,
                    placeholder="Ask about the documents: every answer cites its sources as [n].",
                )
                message = gr.Textbox(
                    placeholder="Ask a question about the documents and press Enter",
                    show_label=False,
                    elem_id="rag-input",
                    max_lines=6,
                    max_length=settings.max_question_chars,
                    submit_btn="Ask",
                    autofocus=True,
                )
                status = gr.HTML("", elem_id="rag-status")
                turns = gr.State([])
                with gr.Row():
                    examples = gr.Examples([[q] for q in EXAMPLES], inputs=[message], label="Examples")
                with gr.Accordion("Settings", open=False):
                    top_k = gr.Slider(
                        1,
                        settings.max_passages,
                        value=settings.top_k,
                        step=1,
                        label="Passages to retrieve (top-k)",
                    )
                    mode = gr.Radio(list(MODES), value=settings.mode, label="Retrieval mode")
                    new_chat = gr.Button("New conversation", size="sm")
            with gr.Tab("Documents", id="documents") as docs_tab:
                docs = gr.HTML(elem_id="rag-docs")
                files = gr.File(
                    label=f"Add documents ({', '.join(SUFFIXES)}; up to {limit} each)",
                    file_count="multiple",
                    file_types=list(SUFFIXES),
                    type="filepath",
                    elem_id="rag-files",
                )
                add = gr.Button("Add to the knowledge base", variant="primary")
                result = gr.HTML(elem_id="rag-upload-result")

        ask_inputs, ask_outputs = [message, chatbot, turns, top_k, mode], [message, chatbot, turns, status]
        message.submit(h.respond, ask_inputs, ask_outputs, api_name="ask", show_progress="hidden")
        # clicking an example asks it (the click first puts it in the box)
        examples.load_input_event.then(
            h.respond, ask_inputs, ask_outputs, show_progress="hidden", api_visibility="private"
        )
        add.click(on_upload, [files], [result, docs, files], api_name="upload", concurrency_limit=1)
        docs_tab.select(h.documents_html, None, docs, api_name="documents", queue=False)
        app.load(h.documents_html, None, docs, api_visibility="private", queue=False)
        new_chat.click(lambda: ([], [], ""), None, [chatbot, turns, status], api_visibility="private")
        chatbot.clear(lambda: ([], ""), None, [turns, status], api_visibility="private")
    app.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    app.rag_home = settings.home
    app.rag_max_file_bytes = settings.max_file_bytes
    return app


def _blocked_paths(home: Path) -> list[str]:
    """Everything in the data folder except Gradio's own temporary files: never served."""
    temp = (home / "ui-tmp").resolve()  # as set by import_gradio
    blocked = {home / "chroma", home / "uploads", home / "embeddings.sqlite"}
    if home.is_dir():
        blocked |= {p for p in home.iterdir() if p.resolve() != temp}
    return sorted(str(p.resolve()) for p in blocked)


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> str:
    """Start the server (no share link, uploads capped, only Gradio's own files served); its URL."""
    home = getattr(app, "rag_home", None)
    if home:
        discard_partial_uploads((Path(home) / "ui-tmp").resolve())  # left by an earlier run
    _, url, _ = app.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=True,
        max_file_size=getattr(app, "rag_max_file_bytes", None),
        blocked_paths=_blocked_paths(Path(home)) if home else None,
        show_error=False,
        run_history=False,
        enable_monitoring=False,
        mcp_server=False,
        ssr_mode=False,
        pwa=False,
        footer_links=["api", "gradio"],
        quiet=True,
        css=CSS,
        head=HEAD,
    )
    if block:
        print(f"Serving the assistant at {url} (Ctrl-C to stop)", flush=True)
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(
                f"Note: listening on {host}: anyone who can reach it can ask questions and add documents "
                "(there is no login).",
                flush=True,
            )
        app.block_thread()
    return str(url)


def serve(host: str = "127.0.0.1", port: int = 7860, assistant: Assistant | None = None) -> None:
    """Serve the UI on one assistant (by default the bundled articles) until interrupted."""
    if assistant is None:
        from rag.assistant import Assistant

        assistant = Assistant()
    launch(build_app(assistant), host, port, block=True)
