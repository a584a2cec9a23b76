"""Questions that ask where: a sentence answers only when it names a place the question does not."""

from __future__ import annotations

import pytest

from rag.question.expectation import expectation
from rag.question.places import place_words, places_in
from rag.text.clean import fold


def test_place_names_are_proper_nouns_jieba_and_the_dictionary_agree_on() -> None:
    places = place_words()
    assert {"东京", "得克萨斯州", "北欧", "洛杉矶"} <= places
    assert "拉斯维加斯" in places  # tagged a person by jieba; the dictionary locates it in Nevada
    assert not {"城市", "东西", "多国", "英伟达", "软银"} & places  # common nouns and companies


@pytest.mark.parametrize(
    ("question", "place"),
    [
        ("软银在日本建的那座AI工厂选址在哪个城市？", True),
        ("这家公司总部在什么国家？", True),
        ("In which city did Huang give his keynote?", True),
        ("Which state did the company pick for its plant?", True),
        # "where" alone may be answered by any place ("in my garden"), not only a place name
        ("那座工厂具体建在哪里？", False),
        ("当时两人是在什么地方谈的？", False),
        ("Where did they talk?", False),
        ("In the scenario where African countries adopt the standard, whose servers are bought?", False),
        ("英伟达在哪些方面领先？", False),
    ],
)
def test_a_question_asking_where_expects_a_place(question: str, place: bool) -> None:
    assert (expectation(question).kind == "place") is place


@pytest.mark.parametrize(
    ("sentence", "met"),
    [
        ("这座工厂建在东京。", True),
        ("CES在美国拉斯维加斯举办。", True),
        ("这就是软银在日本建设AI网络的原因。", False),  # Japan is what the question gives
        ("目前,英伟达正在建设的一座AI工厂,电力需求高达1吉瓦。", False),
    ],
)
def test_a_place_the_question_names_is_context_not_an_answer(sentence: str, met: bool) -> None:
    wanted = expectation("软银和英伟达在日本建的那座AI工厂选址在哪个城市？")
    assert wanted.places == ("日本",)
    assert wanted.met_by(fold(sentence)) is met


def test_places_in_finds_the_place_names_of_a_sentence() -> None:
    found = places_in(fold("美國得克薩斯州,中東的新能源基地,還有北歐那些國家。"))
    assert found >= {"得克萨斯州", "中东", "北欧"}


@pytest.mark.parametrize(
    ("question", "where"),
    [
        ("那座工厂具体建在哪里？", True),
        ("当时两人是在什么地方谈的？", True),
        ("Where did they talk?", True),
        ("In the scenario where African countries adopt the standard, whose servers are bought?", False),
        ("英伟达在哪些方面领先？", False),  # 在哪些: "in which respects"
    ],
)
def test_where_alone_is_answered_by_any_place(question: str, where: bool) -> None:
    assert (expectation(question).kind == "where") is where


@pytest.mark.parametrize(
    ("sentence", "met"),
    [
        ("10年前，在我的花园里。", True),  # a place in words
        ("我们在东京见面。", True),  # 在 a place name
        ("是他把乔布斯带到日本的。", False),  # a place, but not where anything happened
        ("目前,英伟达正在建设的一座AI工厂,电力需求高达1吉瓦。", False),
    ],
)
def test_a_place_in_words_answers_where(sentence: str, met: bool) -> None:
    assert expectation("当时两人是在什么地方谈的？").met_by(fold(sentence)) is met
