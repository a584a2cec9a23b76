"""Fit the citation verifier: a logistic regression over the features of rag.verification.claims, and the
probability above which a sentence is kept, from the labelled replies of the tuning sets.

    python eval/tune_verifier.py            # fit, print cross-validated scores and ablation, write
    python eval/tune_verifier.py --check    # fit and compare with the shipped file only

Rows are (claim sentence, passage) pairs, labelled 1 when the passage supports the sentence. A
sentence is kept when its best passage reaches the threshold. The threshold is chosen on
out-of-fold probabilities (5 folds grouped by question, so no question is seen in training and
scoring at once) to best meet all three targets at once: keep precision 0.97, keep recall 0.90,
unsupported removed 0.90. Reply sets whose folder name holds "unseen" are never read here. The
result is written to section "verifier" of rag/model.json (weights for unscaled features).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.evaluation.replies import UNSEEN, Reply, pair_rows, reply_sets  # noqa: E402
from rag.verification.claims import FAMILIES, FEATURES, SECTION  # noqa: E402
from rag.weights import WEIGHTS_FILE, shipped_weights, write_section  # noqa: E402

REPLIES = ROOT / "eval" / "replies"
OUTPUT = ROOT / "rag" / WEIGHTS_FILE
TARGETS = {"keep_precision": 0.97, "keep_recall": 0.90, "unsupported_removed": 0.90}
FOLDS = 5
# inverse regularisation strength (0.3, 1 and 10 were tried: 1 has the best cross-validated worst target)
C = 1.0
SEED = 0


def tuning_replies(root: Path = REPLIES) -> list[Reply]:
    return [r for name, rs in reply_sets(root).items() if UNSEEN not in name for r in rs]


def _model() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(), LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=SEED)
    )


def sentence_measures(
    probs: np.ndarray, sids: Sequence[tuple[int, int]], threshold: float
) -> dict[str, float]:
    """Keep precision, keep recall, unsupported removed when sentences keep at `threshold`."""
    best: dict[int, tuple[float, int]] = {}
    for p, (sid, ok) in zip(probs, sids, strict=True):
        best[sid] = (max(best.get(sid, (0.0, ok))[0], float(p)), ok)
    kept_ok = sum(1 for p, ok in best.values() if p >= threshold and ok)
    kept = sum(1 for p, _ in best.values() if p >= threshold)
    good = sum(ok for _, ok in best.values())
    bad = len(best) - good
    removed = sum(1 for p, ok in best.values() if p < threshold and not ok)
    return {
        "keep_precision": kept_ok / kept if kept else 1.0,
        "keep_recall": kept_ok / good if good else 1.0,
        "unsupported_removed": removed / bad if bad else 1.0,
    }


def choose_threshold(probs: np.ndarray, sids: Sequence[tuple[int, int]]) -> tuple[float, dict[str, float]]:
    """The threshold whose worst measure, relative to its target, is best (ties: the lower one)."""
    candidates = np.round(np.linspace(0.05, 0.95, 91), 2)

    def worst(t: float) -> float:
        m = sentence_measures(probs, sids, t)
        return min(m[k] / v for k, v in TARGETS.items())

    threshold = float(max(candidates, key=worst))
    return threshold, sentence_measures(probs, sids, threshold)


def fit(replies: Sequence[Reply], features: Sequence[str] = FEATURES) -> dict[str, Any]:
    """Cross-validated threshold and scores, then the model fitted on every row."""
    from sklearn.model_selection import GroupKFold

    rows, labels, groups, sids = pair_rows(replies)
    x = np.array([[r[f] for f in features] for r in rows])
    y = np.array(labels)
    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=FOLDS).split(x, y, groups):
        oof[test] = _model().fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    threshold, measures = choose_threshold(oof, sids)
    pipeline = _model().fit(x, y)
    scaler, regression = pipeline[0], pipeline[1]
    weights = regression.coef_[0] / scaler.scale_
    bias = float(regression.intercept_[0] - np.sum(regression.coef_[0] * scaler.mean_ / scaler.scale_))
    return {
        "features": list(features),
        "weights": {f: round(float(w), 4) for f, w in zip(features, weights, strict=True)},
        "bias": round(bias, 4),
        "threshold": threshold,
        "cross_validated": {k: round(v, 3) for k, v in measures.items()},
        "rows": len(y),
        "sentences": len({s for s, _ in sids}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the shipped file")
    args = parser.parse_args()
    replies = tuning_replies()
    fitted = fit(replies)
    if args.check:
        same = shipped_weights().get(SECTION) == fitted
        print(
            "the shipped weights are up to date"
            if same
            else "the shipped weights differ: run eval/tune_verifier.py"
        )
        return 0 if same else 1
    print(
        f"{fitted['sentences']} claim sentences, {fitted['rows']} sentence–passage rows, "
        f"{len(replies)} replies"
    )
    print(f"threshold {fitted['threshold']}, cross-validated: {fitted['cross_validated']}")
    print("\nAblation (cross-validated, each family left out, threshold chosen again):")
    print("| left out | keep P | keep R | unsupported removed | threshold |\n|---|---:|---:|---:|---:|")
    m = fitted["cross_validated"]
    print(
        f"| (none) | {m['keep_precision']:.3f} | {m['keep_recall']:.3f} | "
        f"{m['unsupported_removed']:.3f} | {fitted['threshold']} |"
    )
    for family, names in FAMILIES.items():
        ablated = fit(replies, [f for f in FEATURES if f not in names])
        m = ablated["cross_validated"]
        print(
            f"| {family} | {m['keep_precision']:.3f} | {m['keep_recall']:.3f} | "
            f"{m['unsupported_removed']:.3f} | {ablated['threshold']} |"
        )
    write_section(OUTPUT, SECTION, fitted)
    print(f"\nWrote section {SECTION!r} of {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
