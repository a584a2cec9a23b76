"""Names a document writes in two scripts: read from its brackets, so that a question giving the name
in the other script still finds the documents that speak of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.question.aliases import aliases, pairs, with_alias_terms, with_aliases
from rag.question.terms import Name, question_names


def test_a_bracket_pairs_a_chinese_name_with_its_latin_form_either_way_round() -> None:
    assert pairs("书店的店主林晓岚（Lin Xiaolan）说") == [("林晓岚", ["lin", "xiaolan"])]
    assert pairs("Tidewell Robotics (潮井机器人) 宣布") == [("潮井机器人", ["tidewell", "robotics"])]
    # traditional script is read as simplified, as everything else is
    assert pairs("林曉嵐（Lin Xiaolan）") == [("林晓岚", ["lin", "xiaolan"])]


def test_brackets_that_hold_no_name_give_no_pair() -> None:
    assert pairs("一座1吉瓦（1 GW）的工厂") == []
    assert pairs("价格（约合600亿美元）") == []
    assert pairs("no brackets here, 也没有括号") == []


def test_a_name_in_one_script_finds_its_forms_in_the_other() -> None:
    texts = ["店主林晓岚（Lin Xiaolan）说，书屋将收藏七万册书。", "林晓岚还说了别的。"]
    assert aliases("xiaolan", texts) == frozenset({"林晓岚"})
    assert aliases("林晓岚", texts) == frozenset({"lin", "xiaolan"})
    assert aliases("tidewell", texts) == frozenset()  # no document glosses it


def test_a_question_name_gains_the_forms_the_documents_give() -> None:
    def lookup(form: str) -> frozenset[str]:
        return frozenset({"林晓岚"}) if form in ("lin", "xiaolan") else frozenset()

    (name,) = question_names("How many books does Xiaolan Lin plan to collect?")
    widened = with_aliases(name, "how many books does xiaolan lin plan to collect?", lookup)
    assert "林晓岚" in widened.forms and set(name.forms) < set(widened.forms)
    unknown = Name(("tidewell",), False)
    assert with_aliases(unknown, "what does tidewell make?", lookup) is unknown


def test_the_answer_comes_from_the_document_that_writes_the_name_in_chinese(
    assistant_over: Callable[[dict[str, str]], Any],
) -> None:
    """An English question names a person whom the answering document writes only in Chinese; another
    document gives both forms once. The name check then counts the answering document as speaking of
    the person, and a third document that does not name her is not."""
    assistant = assistant_over(
        {
            "intro.md": "# 书屋简介\n\n红沙书屋由林晓岚（Lin Xiaolan）创办，位于河边。\n",
            "plan.md": "# 藏书计划\n\n林晓岚说，书屋计划在三年内收藏七万二千本纸质书。\n",
            "other.md": "# 咖啡馆\n\n河边的咖啡馆计划明年开业，每天营业十个小时。\n",
        }
    )
    answerer = assistant.extractive
    (name,) = answerer.queries.analyse("What does Xiaolan Lin plan for the bookshop?").names
    assert "林晓岚" in name.forms
    sources = {Path(s).name: answerer.speaks_of(name, s) for s in set(assistant.store.sources().values())}
    assert sources == {"intro.md": True, "plan.md": True, "other.md": False}


def test_a_name_term_is_found_where_a_text_writes_the_name_in_the_other_script() -> None:
    name = Name(("xiaolan", "lin", "林晓岚"), False)
    terms = {"books|书": 2.0, "xiaolan": 5.0, "lin": 5.0}
    widened = with_alias_terms(terms, [name])
    # the other script only: "xiaolan" does not become "lin" as well
    assert widened == {"books|书": 2.0, "xiaolan|林晓岚": 5.0, "lin|林晓岚": 5.0}
    assert with_alias_terms(terms, []) == terms
