"""What a question asks for, its weighted terms, and the reranking of the hybrid pool."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from rag.answer.extractive import ExtractiveAnswerer
from rag.index.embed import E5Embedder
from rag.question.expectation import expectation
from rag.question.terms import question_terms
from rag.retrieve.rerank import fuse_pools, rerank
from rag.schema import Passage
from rag.text.clean import fold
from tests.support.passages import passage


@pytest.mark.parametrize(
    ("question", "dimension"),
    [
        ("What is Vera Rubin's FP4 inference performance in petaflops?", "flops"),
        ("How much HBM3E memory, in gigabytes, does each GPU have?", "bytes"),
        ("DGX Spark配备了多大的内存？", "bytes"),
        ("这座数据中心需要多少兆瓦的电力？", "power"),
        ("How heavy is the copper cabling?", "weight"),
        ("How much does the rack weigh?", "weight"),
        ("How many times more bandwidth does the rack get?", "times"),
        ("带宽是以太网的几倍？", "times"),
        ("What share of the world's computing power does Europe have?", "percent"),
        ("AI能完成多大比例的工作？", "percent"),
        # a unit right after a number of the question is context, not what is asked
        ("一座1吉瓦AI工厂的电够多大人口的城市用？", ""),
        ("How many homes can the 1 GW factory power?", ""),
        ("How many GPUs are in the rack?", ""),
        # bytes per second is a bandwidth, not a capacity
        ("What is the HBM bandwidth of the GPU, in terabytes per second?", "bandwidth"),
        ("GPU之间的带宽是多少？", "bandwidth"),
        # a bare unit names what is asked only in a question for a number
        ("Which region suits gigawatt AI factories?", ""),
        ("Which chip delivers petaflops of AI performance?", ""),
        ("How many petaflops does the chip deliver?", "flops"),
        ("这座工厂有多少艾字节算力？", "bytes"),
    ],
)
def test_the_dimension_a_question_asks_for_is_recognised(question: str, dimension: str) -> None:
    assert expectation(question).dimension == dimension


@pytest.mark.parametrize(
    ("question", "sentence", "met"),
    [
        ("How heavy is the copper cabling?", "这是电缆，铜线，50磅重的铜线", True),
        ("How heavy is the copper cabling?", "这些铜线由nvlink直接驱动，共有5000根", False),
        ("How many times more bandwidth?", "提供的带宽是全球最高带宽网络的 35 倍", True),
        ("How many times more bandwidth?", "带宽达到 1.8 terabytes每秒", False),
        ("What is its performance in petaflops?", "这座工厂拥有25艾字节ai算力", True),  # any prefix
        ("What is its performance in petaflops?", "它有2000个gpu", False),
        ("What portion of the work can agents take?", "智能体可以完成50%的工作量", True),
        ("What portion of the work can agents take?", "智能体可以完成很多工作", False),
        ("How much memory bandwidth in terabytes per second?", "以 1.8 terabytes每秒的速度连接", True),
        ("How much memory bandwidth in terabytes per second?", "它配备了192GB内存", False),
        ("DGX Spark配备了多大的内存？", "它配备了192GB内存", True),  # an amount with its unit, not a name
        ("DGX Spark配备了多大的内存？", "内存的运行速度为 8 terabytes 每秒", False),
        ("DGX Spark配备了多大的内存？", "它支持5g网络", False),  # 5g is a name
        ("冷却能耗下降了多少？", "冷却能耗下降了三成", True),
        ("冷却能耗下降了多少？", "冷却能耗一成不变", False),
        # 百万 / 千万 before a counter is a number ("a million-person city")
        ("一座1吉瓦AI工厂的电够多大人口的城市用？", "也足够供应一个百万人口城市的日常用电了", True),
        ("一座1吉瓦AI工厂的电够多大人口的城市用？", "也足够供应一个大城市的日常用电了", False),
    ],
)
def test_a_sentence_must_state_the_dimension_asked_for(question: str, sentence: str, met: bool) -> None:
    assert expectation(question).met_by(fold(sentence)) is met


@pytest.mark.parametrize(
    ("sentence", "met"),
    [
        # the question's own amount, in whatever unit or multiplier, is context, not an answer
        ("电力需求高达1000兆瓦,也就是1吉瓦。", False),
        ("电力需求高达1,000兆瓦。", False),
        ("电力需求高达一千兆瓦。", False),
        ("The factory needs 1 GW.", False),
        ("电力需求高达1000兆瓦,足够一个百万人口城市用。", True),
        ("另一座工厂需要1.5吉瓦。", True),
        ("它有1000个GPU。", True),  # the same figure in no unit is another number
    ],
)
def test_an_amount_the_question_gives_is_no_answer_in_any_unit(sentence: str, met: bool) -> None:
    assert expectation("一座1吉瓦AI工厂的电够多大人口的城市用？").met_by(fold(sentence)) is met


@pytest.mark.parametrize(
    ("question", "sentence", "met"),
    [
        ("那篇文章的作者是谁？", "作者 | 林晓", True),
        ("那篇文章的作者是谁？", "文 | 王智远", True),
        ("Who wrote the article?", "文章作者: 瓜哥AI新知", True),
        ("那篇文章的作者是谁？", "作者认为，AI工厂会成为新的基础设施。", False),
        ("Who is the author?", "The author argues that factories matter.", False),
        ("By whom was the article written?", "By | Lin Xiao", True),
    ],
)
def test_who_wrote_it_is_answered_by_a_byline_only(question: str, sentence: str, met: bool) -> None:
    wanted = expectation(question)
    assert wanted.kind == "author"
    assert wanted.met_by(fold(sentence)) is met


@pytest.mark.parametrize("question", ["At which venue in Tokyo was the summit held?", "大会在哪家酒店举行？"])
def test_which_venue_is_answered_only_by_a_sentence_that_names_one(question: str) -> None:
    wanted = expectation(question)
    assert wanted.kind == "venue"
    assert wanted.met_by(fold("大会在东京君悦酒店举行。"))
    assert wanted.met_by(fold("It was held at the Tokyo International Forum hall."))
    assert not wanted.met_by(fold("每年一度在洛杉矶举行的米尔肯全球会议。"))  # a city names no venue
    assert not wanted.met_by(fold("他在数据中心里演示了这台机器。"))  # nor does a data centre


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How much does an AI factory cost?", "money"),
        ("他说建一座数据中心大概要花多少钱？", "money"),
        ("NIM微服务每块GPU每年的授权费用是多少？", "money"),
        ("How much does Nvidia charge to use NIM?", "money"),
        # how far a cost falls is a share or a factor (十分之一), not an amount of money
        ("How far can the new chip bring down training cost?", "number"),
        ("Vera Rubin能把推理成本降低多少？", "number"),
        # a cost that leads to a company asks for the company
        ("The cost of one AI factory is the market value of which company?", ""),
        ("哪家公司的市值是多少？", "money"),
        # what is asked is read from the sentence that asks, not from the one that gives context
        ("Huang puts the price of one AI factory at $60 billion. What does that money go toward?", ""),
        ("What does the U.S. factory cost?", "money"),
        ("Mr. Son named a price. How long did the talks last?", "duration"),
    ],
)
def test_money_is_asked_only_for_an_amount_by_the_sentence_that_asks(question: str, kind: str) -> None:
    assert expectation(question).kind == kind


@pytest.mark.parametrize(
    "question",
    [
        "What body part does the author liken robots to?",
        "作者认为机器人像什么？",
        "作者把数据中心比作什么？",
        "By whom was NVIDIA founded?",
    ],
)
def test_what_the_author_says_does_not_ask_who_wrote_it(question: str) -> None:
    assert expectation(question).kind == ""


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("What does NVIDIA call these supercomputers?", True),
        ("这种思路叫什么？", True),
        ("那个蓝图叫什么名字？", True),
        ("What term did Huang use for countries that run AI on their own soil?", True),
        ("What does NVIDIA build?", False),
        ("英伟达做了什么？", False),
    ],
)
def test_a_question_for_a_name_prefers_a_sentence_that_names(question: str, asks: bool) -> None:
    wanted = expectation(question)
    assert wanted.name is asks
    assert wanted.names(fold("我们把它们称为DGX Cloud。")) is asks
    assert not wanted.names(fold("我们构建了DGX超级计算机。"))


def test_a_term_given_with_its_english_name_names_it() -> None:
    wanted = expectation("What term did Huang use for countries that run AI on their own soil?")
    assert wanted.names(fold("我们还看到了另一种需求:主权 AI(Sovereign AI)"))
    assert wanted.names(fold("这就是双工厂模式（Dual Factory）。"))
    assert not wanted.names(fold("英伟达的GPU(H100)卖得很好。"))  # a code in brackets names nothing
    assert not wanted.names(fold("有些 AI 需要运行在企业自己的数据中心里。"))


def test_english_function_words_are_not_terms_and_a_glossed_word_is_one_term() -> None:
    glosses = [("switches", ["交换机", "交换器"]), ("rack", ["机架"])]
    terms = question_terms("How many NVLink switches are in each rack?", lambda w: 2.0, glosses)
    assert "switches|交换机|交换器" in terms and "rack|机架" in terms
    assert "switches" not in terms and "rack" not in terms  # counted once, through the gloss
    assert "nvlink" in terms  # a name without translation stays a term of its own
    assert not {"each", "many", "how"} & set(terms)


def test_a_chinese_question_keeps_its_words() -> None:
    terms = question_terms("每个机架有多少交换机？", lambda w: 2.0)
    assert {"机架", "交换"} <= set(terms)  # 交换机 counts through its parts


class _Support:
    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores

    def passage_support(self, question: str, passages: Sequence[Passage]) -> dict[str, float]:
        return {p.id: self.scores[p.id] for p in passages if p.id in self.scores}


def test_reranking_lifts_the_passage_that_answers_and_records_the_fused_rank() -> None:
    pool = [passage("a", score=0.05), passage("b", score=0.04), passage("c", score=0.03)]
    ranked = rerank("q", fuse_pools(pool), _Support({"a": 1.5, "b": 0.3, "c": 2.7}), k=2)
    assert [p.id for p in ranked] == ["c", "a"]
    assert [p.fused_rank for p in ranked] == [2, 0]
    assert ranked[0].score > ranked[1].score


def test_with_equal_support_the_fused_order_stands_and_a_passage_without_sentences_supports_least() -> None:
    pool = [passage("a", score=0.05), passage("b", score=0.04), passage("c", score=0.03)]
    assert [p.id for p in rerank("q", pool, _Support({"a": 0.5, "b": 0.5, "c": 0.5}), k=3)] == ["a", "b", "c"]
    assert [p.id for p in rerank("q", pool, _Support({"a": 0.2, "c": 0.9}), k=3)] == ["c", "a", "b"]
    assert rerank("q", [], _Support({}), k=3) == []


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("What was the theme of this year's conference?", "theme"),
        ("What is NVIDIA's answer to the power problem?", "answer"),
        ("Which AI framework has Huawei used?", "framework"),
        ("那种思路叫什么？", "思路"),
        ("这个蓝图的名称是什么？", "名称"),
        # a verb, a name or a vague noun before 什么 / after "what" is no focus
        ("英伟达在AI淘金热里扮演什么角色？", ""),
        ("用哪个公式概括AI工厂靠什么运转？", ""),
        ("孙正义说了什么？", ""),
        ("What is the number of GPUs in a rack?", ""),
    ],
)
def test_the_noun_a_question_asks_about_is_its_focus(question: str, focus: str) -> None:
    assert expectation(question).focus[:1] == ((focus,) if focus else ())


def test_each_part_of_a_two_part_question_also_reads_the_passages_found_for_it() -> None:
    answerer = ExtractiveAnswerer(lambda w: 1.0, E5Embedder())
    sea = passage("sea", text="蓝鲸公司的海底数据中心功率为42兆瓦。")
    desert = passage("desert", text="白鹭公司在戈壁沙漠建设的光伏电站装机容量为300兆瓦。")
    question = "蓝鲸公司的海底数据中心功率是多少？白鹭公司在戈壁沙漠建设的光伏电站装机容量是多少？"
    searched: list[str] = []

    def search(part: str) -> list[Passage]:
        searched.append(part)
        return [desert if "白鹭" in part else sea]

    alone = answerer.answer(question, [sea])
    assert [c.passage_id for c in alone.citations] == ["sea"]  # the second answer is not read
    both = answerer.answer(question, [sea], search)
    assert [c.passage_id for c in both.citations] == ["sea", "desert"]
    assert "42兆瓦" in both.text and "300兆瓦" in both.text
    assert len(searched) == 2
    # a question that asks one thing reads only its passages
    searched.clear()
    answerer.answer("蓝鲸公司的海底数据中心功率是多少？", [sea], search)
    assert searched == []
