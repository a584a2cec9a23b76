"""Reports beside the answer model's fit (eval/tune.py; their figures are in docs/evaluation.md):

- `--ablate`: each feature family left out in turn, refitted and scored;
- `--errors`: the shipped model's outcomes by kind;
- `--compare`: other ways of fitting, scored cross-validated beside the shipped one.
"""

from __future__ import annotations

import json

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from tune import (
    C_GRID,
    FOLDS,
    OUT,
    WEIGHTING,
    WEIGHTINGS,
    _fit,
    _folds,
    _predict,
    best_threshold,
    cross_validated,
    fit,
    gated,
    load,
    objective,
)
from tune_data import TABLES, Table

from rag.answer.features import FAMILIES, FEATURES
from rag.answer.model import AnswerModel


def _fit_ranker(table: Table, rows: np.ndarray, columns: list[int], c: float) -> np.ndarray:
    """A pairwise ranker's weights on the raw columns: a logistic regression without intercept on
    the differences of each part's candidates holding an answer and the others (either way round)."""
    scale = table.rows[rows][:, columns].std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    better, worse = table.pairs(rows)
    differences = (table.rows[better][:, columns] - table.rows[worse][:, columns]) / scale
    labels = np.r_[np.ones(len(differences)), np.zeros(len(differences))]
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=5000)
    return model.fit(np.vstack([differences, -differences]), labels).coef_[0] / scale


def choose_then_decide(
    table: Table, columns: list[int], c: float
) -> list[tuple[str, float, np.ndarray, np.ndarray]]:
    """Cross-validated ranking scores and decision probabilities (for each decider weighting and C).
    In each fold, a pairwise ranker fitted on the other folds ranks the fold's candidates; the decider
    (a logistic regression on a candidate's columns and its score's margin over its part's next best)
    is fitted on the other folds' top candidates as ranked by rankers fitted without them."""
    rank, nested = np.zeros(len(table.rows)), []
    groups = np.array([table.meta[q]["group"] for q in table.question])
    for train, test in _folds(table, 0):
        rank[test] = table.rows[test][:, columns] @ _fit_ranker(table, train, columns, c)
        inner = np.zeros(len(table.rows))
        for fitted, scored in GroupKFold(n_splits=FOLDS).split(train, groups=groups[train]):
            weights = _fit_ranker(table, train[fitted], columns, c)
            inner[train[scored]] = table.rows[train[scored]][:, columns] @ weights
        nested.append((train, test, inner))
    out = []
    for weighting, decide_c in [(w, d) for w in ("none", "objective") for d in C_GRID]:
        # each top candidate is a part: the parts of a question share its weight
        weights = table.question_weights(weighting) / table.part_counts
        probability = np.zeros(len(table.rows))
        for train, test, inner in nested:
            top = table.tops(inner, train)
            decide = np.column_stack([table.rows[top][:, columns], table.margins(inner)[top]])
            weighted = np.ones(len(top)) if weighting == "none" else weights[table.question[top]]
            scaler, model = _fit(decide, table.labels[top], decide_c, weighted / weighted.mean())
            rows = np.column_stack([table.rows[test][:, columns], table.margins(rank)[test]])
            probability[test] = _predict(scaler, model, rows)
        out.append((weighting, decide_c, rank, probability))
    return out


def compare(names: list[str], families: dict[str, tuple[str, ...]]) -> None:
    """Print the cross-validated scores of each way of fitting, each with its best C (no gates)."""
    table = load(names)
    columns = [FEATURES.index(f) for family in families.values() for f in family]
    print("\n| fitting | C | threshold | cv objective | cv fact | cv declined | cv wrongly declined |")
    print("|---|---|---|---|---|---|---|")
    results: dict[str, list] = {}
    for weighting in WEIGHTINGS:
        for c in C_GRID:
            threshold, scores = best_threshold(table, cross_validated(table, columns, c, weighting))
            results.setdefault(f"pointwise, weighting {weighting}", []).append((c, threshold, scores))
    for c in C_GRID:
        for weighting, decide_c, rank, probability in choose_then_decide(table, columns, c):
            threshold, scores = best_threshold(table, probability, rank)
            name = f"choose then decide (ranker C / decider C), decider weighting {weighting}"
            results.setdefault(name, []).append((f"{c} / {decide_c}", threshold, scores))
    for name, found in results.items():
        c, threshold, scores = max(found, key=lambda r: round(objective(r[2]), 6))
        cells = "".join(f" {v:.3f} |" for v in scores.values())
        print(f"| {name} | {c} | {threshold} | {objective(scores):.3f} |{cells}")


KINDS = (
    "right",
    "no candidate read holds the fact (retrieval)",
    "a wrong candidate ranked first and was quoted",
    "the right candidate ranked first but was declined",
    "a wrong candidate ranked first, declined",
    "two-part question, one part missing",
)


def error_kinds(table: Table, probability: np.ndarray, threshold: float) -> dict[str, int]:
    """What happened to each answerable question when each part quotes its best candidate above the
    threshold (as `replay` answers), and how many unanswerable questions were answered anyway."""
    order = np.lexsort((-probability, table.part, table.question))
    best: dict[tuple[int, int], int] = {}
    for i in order:
        best.setdefault((int(table.question[i]), int(table.part[i])), int(i))
    kinds = dict.fromkeys((*KINDS, "unanswerable answered"), 0)
    for q, info in enumerate(table.meta):
        tops = [i for (question, _), i in best.items() if question == q]
        chosen = [i for i in tops if probability[i] >= threshold]
        if not info["answerable"]:
            kinds["unanswerable answered"] += bool(chosen)
            continue
        mask = 0
        for i in chosen:
            mask |= int(table.facts[i]) if table.gold[i] else 0
        if mask == (1 << info["groups"]) - 1:
            kind = KINDS[0]
        elif not table.gold[table.question == q].any():
            kind = KINDS[1]
        elif info["groups"] > 1 and mask:
            kind = KINDS[5]
        elif chosen:
            kind = KINDS[2]
        else:
            kind = KINDS[3] if any(table.gold[i] for i in tops) else KINDS[4]
        kinds[kind] += 1
    return kinds


def print_errors(names: list[str], held: list[str]) -> None:
    """The shipped model's outcomes by kind: cross-validated on the fitting sets, replayed on the
    held-out ones (a Markdown table)."""
    data = json.loads(OUT.read_text(encoding="utf-8"))["answer"]
    shipped = AnswerModel.from_dict(data)
    table = load(names)
    columns = [FEATURES.index(f) for f in shipped.linear.features]
    cv = cross_validated(table, columns, data["C"], data.get("weighting", WEIGHTING))
    cv = gated(table.rows, cv, shipped.gates)
    counts = {"fitting (cross-validated)": error_kinds(table, cv, shipped.threshold)}
    for name in held:
        t = Table.load(TABLES / f"{name}.npz")
        counts[name] = error_kinds(t, shipped.probability(t.rows), shipped.threshold)
    print("\n| |" + "".join(f" {n} |" for n in counts) + "\n|---|" + "---:|" * len(counts))
    for kind in (*KINDS, "unanswerable answered"):
        print(f"| {kind} |" + "".join(f" {c[kind]} |" for c in counts.values()))


def ablate(names: list[str], held: list[str], weighting: str = WEIGHTING) -> None:
    """Refit with each feature family left out, at the shipped model's C (the threshold and gates
    chosen again); print a Markdown table."""
    c = json.loads(OUT.read_text(encoding="utf-8"))["answer"]["C"]
    header = "| left out | cv fact | cv declined | cv wrongly declined |"
    header += "".join(f" {n} fact | {n} declined | {n} wrongly declined |" for n in held)
    print("\n" + header)
    print("|" + "---|" * (4 + 3 * len(held)))
    for left in ["(none)", *FAMILIES]:
        families = {k: v for k, v in FAMILIES.items() if k != left}
        r = fit(names, held, families, quiet=True, grid=(c,), weighting=weighting)["report"]
        cells = [r["cv"]] + [r["held"].get(n, {}) for n in held]
        row = f"| {left} |" + "".join(
            f" {s.get('fact_acc', float('nan')):.3f} | {s.get('abstain_ok', float('nan')):.3f} |"
            f" {s.get('wrong_abstain', float('nan')):.3f} |"
            for s in cells
        )
        print(row)
