"""Reports of an evaluation run (`rag.evaluation.harness.run_eval`): a markdown table, the intervals and
question-by-question comparison under it, and a PNG bar chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLUMNS = (
    ("hit@1", "hit@1"),
    ("hit@5", "hit@5"),
    ("hit@10", "hit@10"),
    ("MRR", "mrr"),
    ("nDCG@10", "ndcg@10"),
    ("fact_acc", "fact_acc"),
    ("fact_acc_zh", "fact_acc_zh"),
    ("fact_acc_en", "fact_acc_en"),
    ("cite_P", "cite_p"),
    ("cite_R", "cite_r"),
    ("abstain_ok", "abstain_ok"),
    ("wrong_abstain", "wrong_abstain"),
    ("p50_ms", "p50_ms"),
    ("p95_ms", "p95_ms"),
)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if key.endswith("_ms") else f"{value:.3f}"


def markdown_table(result: dict[str, Any]) -> str:
    """One row per configuration, one column per metric."""
    head = "| config | " + " | ".join(label for label, _ in COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(COLUMNS)
    rows = [
        f"| {name} | " + " | ".join(_cell(key, data["metrics"].get(key)) for _, key in COLUMNS) + " |"
        for name, data in result["configs"].items()
    ]
    return "\n".join([head, rule, *rows])


def comparison_text(result: dict[str, Any]) -> str:
    """Under the table: each score's 95% interval, and the product against each other configuration
    question by question (what only one of the two gets right, with the sign test's p-value)."""
    lines = ["95% intervals over the questions (bootstrap):"]
    for name, data in result["configs"].items():
        m = data["metrics"]
        cis = [(key, m.get(f"{key}_ci")) for key in ("hit@5", "mrr", "fact_acc")]
        spans = [f"{key} {ci[0]:.2f}–{ci[1]:.2f}" for key, ci in cis if ci]
        lines.append(f"- {name}: " + ", ".join(spans or ["no answerable questions"]))
    for name, tests in result.get("paired_with_hybrid", {}).items():
        text = [f"{key} {t['wins']} won / {t['losses']} lost (p = {t['p']:.3f})" for key, t in tests.items()]
        lines.append(f"hybrid against {name}, question by question: " + "; ".join(text))
    return "\n".join(lines)


CHART_METRICS = (
    ("hit@5", "hit@5"),
    ("MRR", "mrr"),
    ("fact accuracy", "fact_acc"),
    ("citation precision", "cite_p"),
    ("abstention (unanswerable)", "abstain_ok"),
)


def bar_chart(result: dict[str, Any], path: str | Path) -> Path:
    """A PNG of grouped bars comparing the configurations on the headline metrics."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    names = list(result["configs"])
    fig = Figure(figsize=(10, 5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        metrics = result["configs"][name]["metrics"]
        values = [metrics.get(key) for _, key in CHART_METRICS]
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(CHART_METRICS))]
        bars = ax.bar(xs, [v or 0.0 for v in values], width, label=name)
        for bar, value in zip(bars, values):
            label = "n/a" if value is None else f"{value:.2f}"
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.set_xticks(range(len(CHART_METRICS)), [label for label, _ in CHART_METRICS])
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("score")
    items, k = result.get("items", "?"), result.get("k", "?")
    ax.set_title(f"Evaluation on {items} questions (answers from the top {k} passages)")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
