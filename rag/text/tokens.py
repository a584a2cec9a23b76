"""Tokens for keyword search and matching: jieba words plus Han character bigrams, on folded text."""

from __future__ import annotations

import re
from functools import lru_cache

from rag.text.clean import fold
from rag.text.han import HAN

_HAN_RUN = re.compile(f"[{HAN}]+")
_LATIN_RUN = re.compile("[A-Za-z]+")
_WORD = re.compile(rf"[{HAN}]|[a-z0-9][a-z0-9.+-]*")
_SENTENCE = re.compile(r"[^。！？!?；;\n]*(?:[。！？!?；;]+[”’」』\"')）]*|\n|$)")

# Function words that carry no topic; questions words are in the same list.
STOPWORDS = frozenset(
    """的 了 和 与 及 是 在 有 也 都 就 而 并 或 被 把 对 这 那 这个 那个 一个 什么 怎么 怎样 如何
    多少 哪些 哪个 哪里 哪 谁 吗 呢 吧 啊 为 为什么 之 其 于 以 将 会 能 要 说 到 从 等 中 上 下
    个 们 他 她 它 我 你 我们 你们 他们 是否 几 多 么 给 让 还 又 即 该 此 所 上面 提到 文章 文中
    根据 请问 一下 时候 the a an of to in on at for and or is are was
    were be been by with as from that this what which who whom
    whose how when where why does do did much many there their
    its it he she they we you i about into than then would could
    should will can has have had not no""".split()
)


@lru_cache(maxsize=1)
def _jieba() -> object:
    """jieba, loaded on first use, its dictionary read word by word from a cached file."""
    from rag.text.jieba_dict import load

    return load()


def words(text: str) -> list[str]:
    """Content words of already folded text (jieba search mode), stopwords and punctuation removed."""
    jieba = _jieba()
    out = []
    for token in jieba.lcut_for_search(text):  # type: ignore[attr-defined]
        token = token.strip()
        if is_content(token):
            out.append(token)
    return out


def is_content(token: str) -> bool:
    """A stripped token is a content word: Han, or Latin letters and digits, and not a stopword."""
    return bool(token) and token not in STOPWORDS and _WORD.match(token) is not None


def cut(text: str, hmm: bool = True) -> list[str]:
    """jieba's words of already folded text, punctuation and stopwords included (`hmm`: new words guessed)."""
    return list(_jieba().lcut(text, HMM=hmm))  # type: ignore[attr-defined]


def tagged(text: str) -> list[tuple[str, str]]:
    """Words of already folded text with their jieba part-of-speech flags (`nr` a person, …)."""
    _jieba()
    import jieba.posseg

    return [(w, flag) for w, flag in jieba.posseg.lcut(text)]


@lru_cache(maxsize=1)
def word_flags() -> dict[str, str]:
    """jieba's part-of-speech flag of each word of its dictionary."""
    _jieba()
    import jieba.posseg

    flags: dict[str, str] = jieba.posseg.dt.word_tag_tab
    return flags


def bigrams(text: str) -> list[str]:
    """Character bigrams of every Han run, so terms jieba splits oddly still match."""
    out: list[str] = []
    for run in _HAN_RUN.findall(text):
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: words and Han bigrams of the folded text."""
    folded = fold(text)
    return words(folded) + bigrams(folded)


def sentences(text: str, strip: bool = True) -> list[str]:
    """Split text into sentences at Chinese and Western end punctuation and newlines; `strip=False`
    keeps the whitespace around them, so that they join back into the text."""
    return [s.strip() if strip else s for s in _SENTENCE.findall(text) if s.strip()]


def is_chinese(text: str) -> bool:
    """True when Han characters make up a fair share of the letters in the text."""
    han = sum(map(len, _HAN_RUN.findall(text)))
    return han > 0 and han * 4 >= sum(map(len, _LATIN_RUN.findall(text)))
