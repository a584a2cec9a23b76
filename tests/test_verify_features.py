"""The citation verifier's features one by one (rag.verification.claims, rag.question.glossary):
what a sentence claims and what a passage holds, before any fitted weight."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.question.glossary import english_name, han_names
from rag.text.clean import fold
from rag.text.quantities import all_quantities
from rag.verification.claims import ClaimFacts
from tests.support.claims import values


def test_chinese_names_are_found_whole_however_the_sentence_is_cut() -> None:
    assert han_names(fold("据报道，软银和英伟达在日本合作")) == ["英伟达", "日本"]
    assert english_name("英伟达") == {"nvidia"} and english_name("合作") == frozenset()


def test_a_chinese_name_is_found_in_either_script_and_a_swapped_one_is_missing() -> None:
    benz = "英伟达将在明年推出与奔驰合作的智能驾驶汽车。"
    assert values("英伟达将推出与奔驰合作的汽车。", benz)["han_name_missing"] == 0.0
    assert values("英伟达将推出与宝马合作的汽车。", benz)["han_name_missing"] > 0.0
    latin = "NVIDIA will launch a self-driving car built with BMW next year."
    assert values("英伟达将推出与宝马合作的汽车。", latin)["han_name_missing"] == 0.0


def test_a_two_word_name_is_looked_up_as_one() -> None:
    passage = "他提到了几个理想地点：中东的新能源基地。"
    assert values("He named new-energy bases in the Middle East.", passage)["name_missing_any"] == 0.0
    assert values("He named new-energy bases in the Middle Kingdom.", passage)["name_missing_any"] == 1.0


def test_a_word_joined_to_a_name_and_a_lone_letter_are_not_names() -> None:
    facts = ClaimFacts.read("The NVLink-driven cabling uses SERDES-based I/O from Acme.")
    assert facts.names == ["nvlink", "serdes", "acme"]


def test_a_figure_written_in_words_is_a_figure_not_a_term() -> None:
    facts = ClaimFacts.read("这种计算模式已经有六十年历史了，造价约为600亿美元。")
    assert "六十年" not in facts.han_terms and "亿美元" not in facts.han_terms
    assert "历史" in facts.han_terms and len(facts.figures) == 2


def test_any_missing_figure_is_flagged() -> None:
    passage = "The ferry makes 18 crossings a day, and each crossing takes 35 minutes."
    assert values("The ferry makes 18 crossings a day of 35 minutes each.", passage)["num_missing_any"] == 0.0
    assert values("The ferry makes 18 crossings a day of 45 minutes each.", passage)["num_missing_any"] == 1.0


def test_more_measure_words_make_chinese_numerals_figures() -> None:
    assert [q.value for q in all_quantities(fold("一片能顶过去的五片"))] == [5.0]
    assert [q.value for q in all_quantities(fold("三辆车，两代产品"))] == [3.0, 2.0]


def test_the_names_table_is_read_from_the_data_folder_after_the_first_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.question import glossary

    monkeypatch.setenv("RAG_HOME", str(tmp_path))
    glossary.names.cache_clear()
    try:
        table = glossary.names()
        assert (tmp_path / glossary.CACHE_FILE).exists() and table["英伟达"] == {"nvidia"}
        read = glossary._read
        monkeypatch.setattr(glossary, "_read", lambda source: pytest.fail("read the dictionary again"))
        glossary.names.cache_clear()
        assert glossary.names() == table  # from the kept copy
        (tmp_path / glossary.CACHE_FILE).write_bytes(b"not a table")
        monkeypatch.setattr(glossary, "_read", read)
        glossary.names.cache_clear()
        assert glossary.names() == table  # a broken copy is made again
    finally:
        glossary.names.cache_clear()
