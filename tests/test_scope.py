"""Questions that name their document: the clause is split off, picks the document, and the answer
quotes that document (unit tests, then end to end with real Chroma, embeddings and jieba)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from rag import Assistant
from rag.retrieve.rerank import fuse_pools, rerank
from rag.retrieve.scope import NAMED_LEAD, TITLE_PRIOR, find_scope, split_reference
from rag.schema import Passage
from rag.text.tokens import tokenize
from tests.support.passages import passage


@pytest.mark.parametrize(
    ("question", "reference", "rest"),
    [
        (
            "In the article on what physical AI means for factories, which company is NVIDIA compared to?",
            "In the article on what physical AI means for factories",
            "Which company is NVIDIA compared to?",
        ),
        (
            "The article on the Milken conference says the cost equals the value of which company?",
            "The article on the Milken conference",
            "It says the cost equals the value of which company?",
        ),
        (
            "Which GPU does the GTC commentary call last year's workhorse?",
            "the GTC commentary",
            "Which GPU does it call last year's workhorse?",
        ),
        (
            "What was the theme, as the article on Huang's talk reports it?",
            "as the article on Huang's talk reports it",
            "What was the theme?",
        ),
        ("那篇讲物理AI冲击中国制造的文章说，软件创新是哪个模型？", None, "软件创新是哪个模型？"),
        ("解读米尔肯会议发言的那篇文章，作者是谁？", "解读米尔肯会议发言的那篇文章", "作者是谁？"),
    ],
)
def test_the_clause_naming_a_document_is_split_from_what_is_asked(
    question: str, reference: str | None, rest: str
) -> None:
    found = split_reference(question)
    assert found is not None
    assert found[1] == rest
    if reference:
        assert found[0] == reference


@pytest.mark.parametrize(
    "question",
    ["英伟达的软件创新是哪个模型？", "What does NVIDIA say?", "那篇文章？", "Which article?"],
)
def test_a_question_naming_no_document_or_asking_nothing_else_is_left_whole(question: str) -> None:
    assert split_reference(question) is None


_DOCS = {
    "sea.md": "海底 数据中心 海水 降温 机器人 运维",
    "desert.md": "沙漠 光伏 电站 数据中心 机器人 清洗",
    "city.md": "城市 数据中心 屋顶 光伏",
}


def _search(text: str, k: int) -> list[tuple[str, float]]:
    """Keyword search stand-in: a document scores the words it shares with the text."""
    words = set(tokenize(text))
    hits = [(source, float(len(words & set(body.split())))) for source, body in _DOCS.items()]
    return sorted([h for h in hits if h[1] > 0], key=lambda h: -h[1])[:k]


def test_the_document_with_a_clear_lead_is_named_and_an_unclear_one_is_not() -> None:
    clear = find_scope("那篇讲沙漠光伏电站的文章说，机器人做什么？", _search)
    assert clear is not None and clear.rest == "机器人做什么？"
    assert set(clear.documents) == {"desert.md"} and clear.documents["desert.md"] >= NAMED_LEAD
    assert clear.named == "desert.md"
    # "光伏" alone fits two documents equally: no lead, nothing named
    unclear = find_scope("那篇讲光伏的文章说，机器人做什么？", _search)
    assert unclear is not None and unclear.named == "" and max(unclear.documents.values()) == 0
    # a description without a word that tells documents apart names none
    assert find_scope("按那篇文章的说法，机器人做什么？", _search) is None


@pytest.mark.parametrize("kind", ["article", "write-up", "writeup", "column", "commentary"])
def test_the_words_for_an_article_are_not_searched_for_the_document(kind: str) -> None:
    searched: list[str] = []

    def search(text: str, k: int) -> list[tuple[str, float]]:
        searched.append(text)
        return [("desert.md", 2.0), ("sea.md", 1.0)]

    scope = find_scope(f"In the desert solar {kind}, what do the robots do?", search)
    assert scope is not None and scope.rest == "What do the robots do?"
    assert searched[0].split() == ["desert", "solar"]


def _titles(order: dict[str, float]) -> Callable[[str], list[tuple[str, float]]]:
    """Title similarity stand-in: the same similarities whatever the text."""
    return lambda text: sorted(order.items(), key=lambda item: -item[1])


def test_a_clearly_closer_title_picks_the_document_where_keywords_are_unsure() -> None:
    question = "那篇讲光伏的文章说，机器人做什么？"  # keywords: desert.md and city.md tie
    scope = find_scope(question, _search, _titles({"sea.md": 0.86, "desert.md": 0.81, "city.md": 0.80}))
    assert scope is not None and scope.documents == {"sea.md": TITLE_PRIOR}
    assert scope.named == ""  # a likeness of titles lifts the document's passages, never names it
    # titles about as alike as each other decide nothing
    tie = find_scope(question, _search, _titles({"city.md": 0.82, "desert.md": 0.81, "sea.md": 0.80}))
    assert tie is not None and tie.named == "" and max(tie.documents.values()) == 0


def test_a_title_does_not_overrule_keywords_sure_of_another_document() -> None:
    scope = find_scope(
        "那篇讲沙漠光伏电站的文章说，机器人做什么？",
        _search,
        _titles({"city.md": 0.90, "desert.md": 0.80, "sea.md": 0.78}),
    )
    assert scope is not None and scope.named == "desert.md"


def test_a_question_asking_two_things_keeps_its_named_document_as_a_prior_only() -> None:
    scope = find_scope("那篇讲沙漠光伏电站的文章说，机器人做什么？电费下降了多少？", _search)
    assert scope is not None and scope.documents["desert.md"] >= NAMED_LEAD
    assert scope.named == ""  # the second part may be asked of another document


def test_two_rankings_fuse_into_one_pool_with_each_passage_at_its_best() -> None:
    first = [passage("a", score=0.04, source="a.md"), passage("b", score=0.02, source="a.md")]
    second = [passage("c", score=0.09, source="a.md"), passage("b", score=0.06, source="a.md")]
    pool = fuse_pools(first, second)
    assert [p.id for p in pool] == ["a", "c", "b"]  # by best rank, then scaled score, then pool order
    assert {p.id: (p.fused_rank, round(p.score, 3)) for p in pool} == {
        "a": (0, 1.0),
        "c": (0, 1.0),
        "b": (1, 0.667),
    }


class _Even:
    def passage_support(self, question: str, passages: Sequence[Passage]) -> dict[str, float]:
        return {p.id: 0.5 for p in passages}


def test_a_passage_of_the_named_document_is_lifted_by_its_lead() -> None:
    pool = fuse_pools(
        [passage("a", score=0.05, source="sea.md"), passage("b", score=0.04, source="desert.md")]
    )
    assert [p.id for p in rerank("q", pool, _Even(), k=2)] == ["a", "b"]
    assert [p.id for p in rerank("q", pool, _Even(), k=2, prior={"desert.md": 0.5})] == ["b", "a"]


_SEA = """# 海底数据中心的未来

作者 | 林晓

蓝鲸公司在东海建成了一座海底数据中心，功率为42兆瓦，利用海水为服务器降温。

工程师说，海底的低温让冷却能耗下降了三成，数据中心的运维由机器人完成。
"""
_DESERT = """# 沙漠光伏如何为算力供电

作者 | 周舟

白鹭公司在戈壁沙漠建设了一座光伏电站，为附近的数据中心供电，装机容量为300兆瓦。

数据中心的电费因此下降了两成，白鹭公司计划再建两座。
"""


@pytest.fixture(scope="module")
def two_articles(assistant_over: Callable[[dict[str, str]], Assistant]) -> Assistant:
    return assistant_over({"sea.md": _SEA, "desert.md": _DESERT})


@pytest.mark.parametrize(
    ("question", "source", "quoted"),
    [
        ("那篇讲海底数据中心的文章，作者是谁？", "sea.md", "林晓"),
        ("讲沙漠光伏的那篇文章，作者是谁？", "desert.md", "周舟"),
        ("那篇讲海底数据中心的文章里，冷却能耗下降了多少？", "sea.md", "三成"),
        ("那篇讲沙漠光伏的文章里，数据中心的电费下降了多少？", "desert.md", "两成"),
    ],
)
def test_the_answer_quotes_the_document_the_question_names(
    two_articles: Assistant, question: str, source: str, quoted: str
) -> None:
    answer = two_articles.ask(question)
    assert not answer.abstained, answer.text
    assert answer.question == question
    assert [c.source for c in answer.citations] == [source]
    assert quoted in answer.citations[0].quote and quoted in answer.text


def test_who_wrote_it_is_answered_by_a_byline(two_articles: Assistant) -> None:
    answer = two_articles.ask("作者是谁？")
    assert not answer.abstained
    assert answer.citations[0].quote.startswith("作者 |")


def test_titles_in_chinese_tell_apart_documents_described_in_english(two_articles: Assistant) -> None:
    ranked = two_articles.retriever.title_sources("the future of undersea data centres")
    assert [source for source, _ in ranked] == ["sea.md", "desert.md"]
    ranked = two_articles.retriever.title_sources("how solar power in the desert feeds computing")
    assert [source for source, _ in ranked] == ["desert.md", "sea.md"]
    answer = two_articles.ask("In the article on the future of undersea data centres, who is the author?")
    assert not answer.abstained, answer.text
    assert [c.source for c in answer.citations] == ["sea.md"] and "林晓" in answer.text
