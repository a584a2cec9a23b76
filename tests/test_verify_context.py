"""A figure the passage gives, but next to another thing (rag.verification.figures.displaced_figures),
and the names an English sentence shares with a Chinese passage: features on invented text."""

from __future__ import annotations

from rag.verification.claims import FEATURES, ClaimFacts
from rag.verification.figures import clause
from tests.support.claims import values


def test_a_clause_ends_at_a_comma_or_a_full_stop() -> None:
    text = "the town has 40 bakeries, and 12 of them sell rye. it also has 3 mills"
    start = text.index("12")
    a, b = clause(text, start, start + 2)
    assert text[a:b].strip() == "and 12 of them sell rye"


def test_the_words_around_a_figure_are_taken_from_its_own_clause() -> None:
    facts = ClaimFacts.read("Last spring, the village planted 400 cherry trees near the river.")
    assert facts.context == [("village", "planted", "cherry", "trees", "near")]


def test_a_figure_next_to_another_thing_in_the_passage_is_displaced() -> None:
    passage = "该镇有80名面包师烤制黑麦面包，每周售出1200个苹果派。"
    assert values("该镇有1200名面包师。", passage)["num_displaced"] == 1.0
    assert values("该镇有80名面包师。", passage)["num_displaced"] == 0.0
    english = "The harbour has 14 cranes, while its warehouses store 9000 barrels of oil."
    assert values("The harbour has 9000 cranes.", english)["num_displaced"] == 1.0
    assert values("The harbour has 14 cranes.", english)["num_displaced"] == 0.0


def test_an_english_figure_is_checked_against_a_chinese_clause_by_its_translations() -> None:
    passage = "如果苹果产量每年增长 3 倍,如果梨的产量每年增长 7 倍,果园就必须扩建。"
    assert values("Pear output grows 3 times every year.", passage)["num_displaced"] == 1.0
    assert values("Pear output grows 7 times every year.", passage)["num_displaced"] == 0.0


def test_a_word_next_to_a_figure_the_sentence_also_gives_is_not_displaced() -> None:
    passage = "The mill opened in 1911 and grinds 30 tonnes of wheat. Its wheel is 6 metres wide."
    claim = "The mill opened in 1911, and its wheel is 6 metres wide."
    assert values(claim, passage)["num_displaced"] == 0.0


def test_a_figure_of_another_kind_is_no_rival_for_the_words_around_a_figure() -> None:
    # the subject sits in the clause of a year, the power in a clause of its own: a right sentence
    passage = "青禾公司在2028年建成了一座储能电站，容量为36兆瓦。"
    assert values("青禾公司的储能电站容量为36兆瓦。", passage)["num_displaced"] == 0.0


def test_two_figures_given_each_other_s_things_are_swapped() -> None:
    passage = "新馆总投资7.35亿元，其中市财政出资3.1亿元，专项债券2.8亿元，其余由集团自筹。"
    assert values("其中市财政出资2.8亿元，专项债券3.1亿元。", passage)["num_swapped"] == 1.0
    assert values("其中市财政出资3.1亿元，专项债券2.8亿元。", passage)["num_swapped"] == 0.0
    english = "The ferry takes 240 passengers; its deck holds 36 vehicles."
    assert (
        values("The ferry takes 36 passengers; its deck holds 240 vehicles.", english)["num_swapped"] == 1.0
    )
    assert (
        values("The ferry takes 240 passengers; its deck holds 36 vehicles.", english)["num_swapped"] == 0.0
    )


def test_a_figure_in_words_and_a_range_of_its_order_are_two_figures() -> None:
    facts = ClaimFacts.read("未来十年内会出现几十座磨坊。")
    assert sorted(q.value for q, _ in facts.figures) == [10.0, 10.0]
    assert [q.high for q, _ in facts.figures].count(0.0) == 1


def test_the_share_of_names_an_english_sentence_shares_with_a_chinese_passage() -> None:
    assert "cross_names" in FEATURES and "num_displaced" in FEATURES
    passage = "报道称，英伟达与谷歌将在东京合作建设研究中心。"
    assert values("NVIDIA and Google will build a research centre.", passage)["cross_names"] == 1.0
    assert values("NVIDIA and Oracle will build a research centre.", passage)["cross_names"] == 0.5
    assert values("NVIDIA和谷歌将建设研究中心。", passage)["cross_names"] == 0.0  # the same script
