"""`rag eval`: run the eval set over several configurations and report them side by side."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def default_eval_file() -> Path:
    """eval/qa.jsonl of a source checkout, else the copy shipped in the package."""
    here = Path(__file__).resolve().parents[1]  # the rag package
    for candidate in (here.parent / "eval" / "qa.jsonl", here / "eval_data" / "qa.jsonl"):
        if candidate.exists():
            return candidate
    return here.parent / "eval" / "qa.jsonl"


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.assistant import Assistant
    from rag.config import Settings
    from rag.evaluation.harness import load_eval, run_eval
    from rag.evaluation.report import bar_chart, comparison_text, markdown_table

    if args.replies is not None:
        return _eval_replies(Path(args.replies), args.json)
    configs = [c.strip() for c in args.config.split(",")] if args.config else None
    items = load_eval(Path(args.file))
    settings = Settings(collection=args.collection) if args.collection else Settings()
    if args.corpus:
        assistant = corpus_assistant(Path(args.corpus).expanduser(), settings)
    else:
        assistant = Assistant(settings)
    result: dict[str, Any] = run_eval(assistant, items, configs=configs, k=args.k)
    result["settings"] = assistant.settings.to_dict()  # what was scored (API keys left out)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    bar_chart(result, out / "eval.png")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(markdown_table(result))
        print()
        print(comparison_text(result))
        print(f"\nWrote {out / 'eval.json'} and {out / 'eval.png'}")
    return 0


def _eval_replies(folder: Path, as_json: bool) -> int:
    """`rag eval --replies`: the citation verifier against labelled model replies, with baselines."""
    from rag.config import Settings
    from rag.errors import InputError
    from rag.evaluation.replies import run, table
    from rag.index.embed import EmbeddingCache, make_embedder

    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder of labelled replies (items.json and replies.jsonl).")
    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    embedder = make_embedder(settings.embedding, EmbeddingCache(settings.home / "embeddings.sqlite"))
    result = run(folder, embedder.embed_passages)
    print(json.dumps(result, ensure_ascii=False, indent=2) if as_json else table(result))
    return 0


def corpus_assistant(folder: Path, settings: Any) -> Any:
    """A new knowledge base in a temporary folder holding only the documents under `folder`."""
    import tempfile

    from rag.assistant import Assistant
    from rag.errors import InputError

    if not folder.is_dir():
        raise InputError(f"No such folder: '{folder}' (--corpus takes a folder of documents)")
    settings.home = Path(tempfile.mkdtemp(prefix="rag-eval-"))
    assistant = Assistant(settings, bundled=False)
    assistant.ingest([folder])
    return assistant


def add_eval_command(sub: Any) -> None:
    """Register `rag eval` on the CLI's subcommands."""
    ev = sub.add_parser("eval", help="score retrieval, answers, citations and abstention on an eval set")
    ev.add_argument("--file", default=str(default_eval_file()), help="eval set (JSON lines)")
    ev.add_argument(
        "--config",
        default=None,
        help="comma-separated: hybrid, dense, bm25, llamaindex, llm (default: all; llm when configured)",
    )
    ev.add_argument(
        "--corpus",
        default=None,
        help="a folder of documents: score a new knowledge base holding only them (not your own)",
    )
    ev.add_argument("--k", type=int, default=5, help="passages given to the answerer (default 5)")
    ev.add_argument("--out", default="eval-results", help="folder for eval.json and eval.png")
    ev.add_argument("--json", action="store_true", help="print the full result as JSON")
    ev.add_argument(
        "--replies",
        nargs="?",
        const=str(Path(__file__).resolve().parents[2] / "eval" / "replies"),
        default=None,
        metavar="DIR",
        help="score the citation verifier on labelled model replies instead (default eval/replies)",
    )
    ev.set_defaults(func=cmd_eval)
