"""Is a model's reply an answer at all? Not when it is a bare token, a copy of its prompt (the rules,
the passage delimiters and headers), a repetition of what a planted instruction asks for, or says
nothing about what the question asks about."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.question.lexicon import translations
from rag.text.clean import fold
from rag.text.han import HAN_CHAR
from rag.text.tokens import bigrams
from rag.verification.citations import Claim, Evidence, best_quote
from rag.verification.claims import ClaimFacts
from rag.verification.instructions import REPLY_WORD
from rag.verification.markers import strip_markers

COPY_WINDOW = 16  # characters of a run of the prompt's rules that count as a copy
COPY_SHARE = 0.3  # share of the reply's windows found in the rules that makes it a copy
PASSAGE_COPY_SHARE = 0.9  # share of a long reply's windows found word for word in the passages
PASSAGE_COPY_CHARS = 400  # a reply at least this long that is nearly all passage text is a copy
# what only the prompt holds: passage delimiters and headers, the passages' titles, the question label
_SCAFFOLD = re.compile(
    r"</?\s*passage\s*>|&lt;\s*/?\s*passage|资料段落\s*[:：]|^\s*passages\s*:|^\s*(question|问题)\s*[:：]"
    r"|\[\d{1,3}\]\s*[^\s,，]+\.(txt|md|markdown|html?|pdf|docx)\s*[,，]\s*(lines?|page|paragraph)",
    re.IGNORECASE | re.MULTILINE,
)


def is_bare(sentence: str) -> bool:
    """A sentence with at most one content word and no figure: a token, not a statement."""
    facts = ClaimFacts.of(strip_markers(sentence))
    units = len(facts.han_terms) + len(facts.latin_terms) + len(facts.figures)
    return units <= 1 and len(HAN_CHAR.findall(sentence)) < 6


def copies_prompt(reply: str, messages: Sequence[dict[str, str]]) -> bool:
    """The reply repeats its prompt: the passage delimiters or headers, a good part of the rules, or
    long stretches of the passages word for word with nothing of its own."""
    if _SCAFFOLD.search(reply):
        return True
    text = re.sub(r"\s+", " ", strip_markers(reply))
    windows = [text[i : i + COPY_WINDOW] for i in range(0, max(0, len(text) - COPY_WINDOW + 1), 4)]
    if not windows:
        return False
    rules = re.sub(r"\s+", " ", "\n".join(m["content"] for m in messages if m.get("role") == "system"))
    if rules and sum(w in rules for w in windows) / len(windows) >= COPY_SHARE:
        return True
    prompt = re.sub(r"\s+", " ", "\n".join(m["content"] for m in messages if m.get("role") == "user"))
    return (
        len(text) >= PASSAGE_COPY_CHARS
        and sum(w in prompt for w in windows) / len(windows) >= PASSAGE_COPY_SHARE
    )


def about(sentence: str, question: str) -> bool:
    """The sentence speaks of something the question names (a shared word, character pair, figure or
    a dictionary translation of one of the question's English words)."""
    claim = ClaimFacts.of(strip_markers(sentence))
    asked = ClaimFacts.of(question)
    folded = claim.folded
    if set(bigrams(folded)) & set(asked.pairs):
        return True
    if any(re.search(rf"(?<![a-z0-9]){re.escape(w[:5])}", folded) for w in asked.latin_terms + asked.names):
        return True
    if any(t in folded for w in asked.latin_terms for t in translations(w)):
        return True
    english = fold(question)
    return any(t in english for w in claim.latin_terms for t in translations(w)) or any(
        q.value == c.value for q, _ in asked.figures for c, _ in claim.figures
    )


def planted_words(evidence: dict[int, Evidence], question: str = "") -> frozenset[str]:
    """Words and Han character pairs that the passages hold only in sentences addressed to the model
    (what a planted instruction asks the reply to say). With the question, a sentence that speaks of
    replies or answers and not of the question's subject counts as addressed to the model too."""
    meta = (
        {
            i: [
                s.folded for s in e.sentences if REPLY_WORD.search(s.folded) and not about(s.folded, question)
            ]
            for i, e in evidence.items()
        }
        if question
        else {i: [] for i in evidence}
    )
    addressed = {m for found in meta.values() for m in found}
    facts = "\n".join(s.folded for e in evidence.values() for s in e.sentences if s.folded not in addressed)
    out: set[str] = set()
    for i, e in evidence.items():
        for sentence in [*e.planted, *meta[i]]:
            out.update(w for w in re.findall(r"[a-z0-9][a-z0-9_-]{2,}", sentence) if w not in facts)
            out.update(p for p in bigrams(sentence) if p not in facts)
    return frozenset(out)


def repeats_planted(sentence: str, planted: frozenset[str]) -> bool:
    """The sentence says something only a planted instruction holds."""
    if not planted:
        return False
    folded = fold(strip_markers(sentence))
    found = set(re.findall(r"[a-z0-9][a-z0-9_-]{2,}", folded)) | set(bigrams(folded))
    return bool(found & planted)


def on_subject(sentence: str, question: str, evidence: dict[int, Evidence], passages: Sequence[int]) -> bool:
    """The sentence states something the passages say about the question's subject: it speaks of
    the question itself, or the passage sentence that supports it best does (`passages`: indexes)."""
    if about(sentence, question):
        return True
    claim = Claim.of(strip_markers(sentence))
    for i in passages:
        quote = best_quote(claim, evidence[i]) if claim is not None else None
        if quote is not None and about(quote.text, question):
            return True
    return False
