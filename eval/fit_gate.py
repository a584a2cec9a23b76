"""Fit the bar retrieval must reach before the language model is asked (section "gate" of rag/model.json).

    python eval/fit_gate.py

The signal is the best dense cosine between the question and the passages retrieved for it (the
passages the model would be given). The bar is the highest value that still lets at least 0.97
of the answerable questions of eval/dev.jsonl and of eval/train.jsonl (each) through; the script
reports, for each
file, the share of answerable questions that reach the model and of unanswerable ones stopped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.answer.llm import GATE_SECTION, retrieval_signal  # noqa: E402
from rag.weights import WEIGHTS_FILE, write_section  # noqa: E402

FILES = ("dev.jsonl", "train.jsonl")
REACH = 0.97  # share of answerable questions that must reach the model
K = 8  # passages the model is given (LLMSettings.top_k)


def main() -> int:
    from rag import Assistant, Settings

    assistant = Assistant(Settings(llm=None))
    signals: dict[str, list[tuple[float, bool]]] = {}
    for name in FILES:
        rows = []
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                passages = assistant.retrieve(item["question"], k=K)
                rows.append((retrieval_signal(passages), bool(item["answerable"])))
        signals[name] = rows
    bars = []
    for rows in signals.values():  # the highest bar letting REACH of each file's answerable through
        answerable = sorted(s for s, ok in rows if ok)
        bars.append(answerable[int((1 - REACH) * len(answerable))])
    bar = float(f"{min(bars) - 1e-4:.4f}")
    print(f"bar (best dense cosine): {bar}")
    print("| file | answerable reaching the model | unanswerable stopped |\n|---|---:|---:|")
    for name, rows in signals.items():
        ok = [s for s, a in rows if a]
        no = [s for s, a in rows if not a]
        reach = sum(s >= bar for s in ok) / len(ok)
        stopped = sum(s < bar for s in no) / len(no) if no else 0.0
        print(f"| {name} | {reach:.3f} ({len(ok)}) | {stopped:.3f} ({len(no)}) |")
    out = ROOT / "rag" / WEIGHTS_FILE
    write_section(out, GATE_SECTION, {"signal": "best dense cosine", "bar": bar, "reach": REACH})
    print(f"Wrote section {GATE_SECTION!r} of {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
