"""The citation verifier's features of one claim against one passage, for the verifier's tests."""

from __future__ import annotations

from rag.text.clean import fold
from rag.verification.claims import ClaimFacts, PassageFacts, features


def values(claim: str, passage: str) -> dict[str, float]:
    """The feature values of a claim sentence against a passage given as one text (as written)."""
    return features(ClaimFacts.read(claim), PassageFacts.of([fold(passage)], [passage]))
