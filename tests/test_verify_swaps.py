"""A name swapped for another of its kind (rag.verification.swaps), and English words matched in a
Chinese passage through the character their translations share (rag.question.lexicon), on
invented text."""

from __future__ import annotations

from rag.question.lexicon import core_characters
from rag.text.clean import fold
from rag.verification.claims import PassageFacts
from rag.verification.swaps import latin_names, sentence_names
from tests.support.claims import values

CONTRACT = "Orvane Logistics signed the supply contract with Telmiro Systems in March."


def test_a_name_swapped_for_the_one_the_passage_gives_there_is_flagged() -> None:
    swapped = "Orvane Logistics signed the supply contract with Brakkor Systems in March."
    assert values(swapped, CONTRACT)["name_swapped"] == 1.0
    assert values(CONTRACT, CONTRACT)["name_swapped"] == 0.0


def test_a_name_the_passage_leaves_out_without_another_in_its_place_is_no_swap() -> None:
    passage = "Orvane Logistics signed the supply contract in March."
    claim = "Orvane Logistics signed the supply contract with Brakkor in March."
    facts = values(claim, passage)
    assert facts["name_missing_any"] == 1.0 and facts["name_swapped"] == 0.0


def test_a_chinese_name_swapped_for_another_is_flagged_and_one_elsewhere_is_not() -> None:
    passage = "这家面包店的第一家分店开在佛罗伦萨。"
    assert values("这家面包店的第一家分店开在威尼斯。", passage)["name_swapped"] == 1.0
    assert values(passage, passage)["name_swapped"] == 0.0


def test_a_rival_name_is_found_across_scripts_next_to_the_translated_words() -> None:
    passage = "该工厂由工程师王建华设计，去年建成。"
    assert "王建华" in sentence_names(passage, fold(passage), frozenset())
    claim = "The factory was designed by engineer Brakkor and finished last year."
    assert values(claim, passage)["name_swapped"] == 1.0


def test_latin_names_skip_the_capital_that_starts_a_sentence() -> None:
    text = "Last week Orvane met Telmiro-based staff and the CEO of iQuanta."
    assert latin_names(text, frozenset({"the"})) == ["orvane", "telmiro", "ceo", "iquanta"]


def test_an_english_word_is_found_through_the_character_its_translations_share() -> None:
    assert "架" in core_characters("rack") and "云" in core_characters("cloud")
    passage = PassageFacts.of([fold("服务器放在铜制机架里。")])
    assert not passage.has_translation("rack") and passage.has_sense("rack")
    assert values("The servers stand in a copper rack.", "服务器放在铜制机架里。")["cross_share"] >= 0.75
