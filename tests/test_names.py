"""Names a question gives must be spoken of by the document the answer quotes; dictionary names."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from unittest.mock import patch

import pytest

from rag import Assistant
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.features import FEATURES
from rag.question.expectation import expectation
from rag.question.terms import Name, question_names
from rag.retrieve.hybrid import KeywordIndex
from rag.text.clean import fold
from rag.text.crosslingual import LEXICON_FILE, Gloss, Lexicon, build_table, chinese_amounts, lemmas
from rag.text.tokens import tokenize


def _translate(text: str) -> list[tuple[str, list[str]]]:
    table = {"boston": ["波士顿"], "people": ["人们"], "attended": ["光临"]}
    return [(w, table[w]) for w in text.lower().split() if w in table]


@pytest.mark.parametrize(
    ("question", "forms"),
    [
        # capitalised words in a row are one name; an acronym stands alone; the first word is none
        ("What is the HBM bandwidth of a Vera Rubin GPU?", [("hbm",), ("vera", "rubin"), ("gpu",)]),
        ("Which robots did Boston Dynamics build?", [("boston", "波士顿", "dynamics", "dynamic")]),
        # a person and a code are names; "3D" and the pronoun "I" are not
        ("Did I see Huang show 3D renders of the H100?", [("huang",), ("h100",)]),
        # a name made a modifier is the name ("AI-accelerated"); a name with a hyphen stays whole
        ("Are Amazon-made chips in the China-led bloc on Wi-Fi?", [("amazon",), ("china",), ("wi-fi",)]),
        # months and weekdays are dates
        ("What did SoftBank buy in October 2025, on a Monday?", [("softbank",)]),
    ],
)
def test_the_names_of_an_english_question(question: str, forms: list[tuple[str, ...]]) -> None:
    names = question_names(question, _translate)
    assert [n.forms for n in names] == forms
    assert not any(n.as_written for n in names)  # an English name may lack its Chinese translation


def test_the_names_of_a_chinese_question_are_written_as_the_documents_would() -> None:
    names = question_names("华为的芯片在日本的城市卖得怎么样？")
    assert Name(("华为",), True) in names
    assert not any(n.forms[0] in ("日本", "城市") for n in names)  # places are left out


def test_a_word_before_an_honorific_is_a_persons_name() -> None:
    # jieba tags 宫川 a common noun and 山田 a place: the honorific says they are people
    assert next(n.forms for n in question_names("宫川先生在软银担任什么职务？")) == ("宫川",)
    assert ("山田",) in [n.forms for n in question_names("东京大学的山田教授说了什么？")]
    assert question_names("这位先生是谁？") == []


def test_an_answer_must_come_from_a_document_that_speaks_of_every_name() -> None:
    held = {"vera": frozenset({"ces.md"}), "rubin": frozenset({"ces.md"}), "华为": frozenset()}
    answerer = ExtractiveAnswerer(lambda t: 1.0, documents_with=lambda w: held.get(w, frozenset()))
    rubin = Name(("vera", "rubin"), False)
    assert answerer.speaks_of(rubin, "ces.md")
    assert not answerer.speaks_of(rubin, "tokyo.md")  # another GPU's figure
    assert not answerer.speaks_of(Name(("华为",), True), "ces.md")  # no document's name
    assert answerer.speaks_of(Name(("sega",), False), "ces.md")  # maybe just untranslated
    assert ExtractiveAnswerer(lambda t: 1.0).speaks_of(rubin, "tokyo.md")  # nothing to ask


def test_the_chunks_holding_a_word_as_a_token_or_as_its_bigrams() -> None:
    texts = ["星河公司的Vera Rubin芯片", "软银在日本建设数据中心。", "数据中心的电力"]
    index = KeywordIndex.build(["a", "b", "c"], [tokenize(t) for t in texts])
    assert sorted(index.holding("rubin")) == [0]
    assert sorted(index.holding("数据中心")) == [1, 2]
    assert sorted(index.holding("软银在日本")) == [1]  # no token: every bigram of it is in chunk b
    assert len(index.holding("华为")) == 0 and len(index.holding("苹果公司")) == 0


@pytest.mark.parametrize(
    ("question", "kind", "things"),
    [
        ("How many Blackwell GPUs will the factory hold?", "number", ("gpu",)),  # an acronym as is
        # the counted noun, not the verb; people are also counted with 人 ("2000 人")
        ("How many people attended?", "number", ("人们", "人", "people", "person")),
        ("他们一共尝试过几次？其中最后一次谈的是什么？", "", ()),  # the last question says what is asked
        ("英伟达一共有多少个库？请用中文回答。", "number", ()),  # a request after it asks nothing
    ],
)
def test_what_is_counted_and_which_question_says_what_is_asked(
    question: str, kind: str, things: tuple[str, ...]
) -> None:
    wanted = expectation(question, _translate)
    assert (wanted.kind, wanted.things) == (kind, things)


def test_people_are_counted_with_the_chinese_counter() -> None:
    wanted = expectation("How many people watched from the courtyard?", _translate)
    assert wanted.met_by(fold("外面的庭院,还有2000 人在同步观看。"))
    assert wanted.met_by(fold("Another 2,000 people watched outside."))
    assert not wanted.met_by(fold("庭院里坐满了观众。"))


def test_which_ordinal_asks_for_a_number() -> None:
    wanted = expectation("2025年的米尔肯全球会议是第几届？")
    assert wanted.kind == "number"
    assert wanted.met_by(fold("这是第28届米尔肯全球会议。"))
    assert not wanted.met_by(fold("每年一度在洛杉矶举行的米尔肯全球会议。"))


def test_a_chinese_name_is_also_found_in_its_english_form() -> None:
    siemens = Name(("西门子",), True)
    assert siemens in question_names("英伟达和西门子的合作是什么的起点？")
    held = {"siemens": frozenset({"ces.md"}), "西门子": frozenset({"milken.md"})}
    looked_up: list[str] = []

    def english(word: str) -> list[str]:
        looked_up.append(word)
        return {"西门子": ["siemens"]}.get(word, [])

    def documents_with(word: str) -> frozenset[str]:
        return held.get(word, frozenset())

    answerer = ExtractiveAnswerer(lambda t: 1.0, documents_with=documents_with, english=english)
    # the keynote writes "Siemens": it speaks of the company the question writes 西门子
    assert answerer.speaks_of(siemens, "ces.md")
    assert not ExtractiveAnswerer(lambda t: 1.0, documents_with=documents_with).speaks_of(siemens, "ces.md")
    assert not answerer.speaks_of(siemens, "tokyo.md")  # neither form there
    looked_up.clear()
    assert answerer.speaks_of(siemens, "milken.md")
    assert looked_up == []  # the name as written is there: no dictionary needed


def test_the_english_words_of_a_chinese_word(tmp_path: Path) -> None:
    table = build_table(
        _dictionary(
            tmp_path,
            "西門子 西门子 [Xi1 men2 zi3] /Siemens (company)/",
            "微軟 微软 [Wei1 ruan3] /Microsoft corporation/",
            "在 在 [zai4] /(located) at/in/",
        )
    )
    lexicon = Lexicon()
    lexicon._table = table
    assert lexicon.english("西门子") == ["siemens"]
    # one-word senses that are no stop words: "corporation" (a head word) yes, "in" never
    assert "in" not in lexicon.english("在")
    index = KeywordIndex.build(["c1"], [tokenize("Siemens 和 英伟达")], lexicon)
    assert index.english("西门子") == ["siemens"]
    assert index.english("微软") == []  # no chunk writes Microsoft


@pytest.mark.parametrize(
    ("question", "forms"),
    [
        ("It costs around $60 billion.", [("60 billion", ["600亿", "600 亿"])]),
        ("over 2 trillion dollars", [("2 trillion", ["2万亿", "2 万亿"])]),
        ("1.5 million people", [("1.5 million", ["150万", "150 万"])]),
        ("60 Million users", [("60 million", ["6000万", "6000 万"])]),
        ("3 thousand seats", []),  # 0.3万: Chinese writes 3000, as English does
        ("version 10.5.3 million", []),  # no amount: part of a version number
    ],
)
def test_amounts_with_english_magnitudes_in_chinese_scales(question: str, forms: list[Gloss]) -> None:
    assert chinese_amounts(question) == forms


def test_an_amount_finds_the_chunk_that_writes_it_in_chinese_scales(tmp_path: Path) -> None:
    lexicon = Lexicon()
    lexicon._table = build_table(
        _dictionary(tmp_path, "十億 十亿 [shi2 yi4] /billion/", "硬件 硬件 [ying4 jian4] /hardware/")
    )
    texts = ["這600億花在哪了?答案是:硬件。", "十亿美元的硬件。", "硬件很贵。"]
    index = KeywordIndex.build(["c1", "c2", "c3"], [tokenize(t) for t in texts], lexicon)
    question = "Where does the $60 billion go: hardware?"
    glossed = index.glosses(question)
    # the amount is one term, "billion" is not glossed on its own as well
    assert ("60 billion", ["600亿", "600 亿"]) in glossed
    assert "billion" not in [source for source, _ in glossed]
    assert "600" in index.query_tokens(question)
    assert index.ids[index.search(question, 3)[0][0]] == "c1"
    # an amount no chunk holds adds nothing: its magnitude word is glossed as any other word
    assert [s for s, _ in index.glosses("Where does the $70 billion go?")] == ["billion"]


def test_several_is_no_count() -> None:
    wanted = expectation("英伟达一共有多少个库？")
    assert not wanted.met_by("黄仁勋提到几个理想地点:")
    assert wanted.met_by("我们有几十个库。") and wanted.met_by("我们有350多个库。")


def _dictionary(folder: Path, *entries: str) -> Path:
    """A small CC-CEDICT file with these entries."""
    dictionary = folder / "cedict.txt.gz"
    with gzip.open(dictionary, "wt", encoding="utf-8") as handle:
        handle.write("# test\n" + "".join(f"{entry}\n" for entry in entries))
    return dictionary


def test_the_dictionary_reads_names_before_a_comma_and_peoples_adjectives(tmp_path: Path) -> None:
    dictionary = _dictionary(
        tmp_path,
        "東京 东京 [Dong1 jing1] /Tokyo, capital of Japan/",
        "日本 日本 [Ri4 ben3] /Japan/",
        "英偉達 英伟达 [Ying1 wei3 da2] /NVIDIA, computer graphics card company/",
    )
    table = build_table(dictionary)
    assert table["tokyo"] == ["东京"] and table["nvidia"] == ["英伟达"]
    assert "china" in lemmas("chinese") and "japan" in lemmas("japanese") and "africa" in lemmas("african")
    lexicon = Lexicon()
    lexicon._table = table
    chinese = {"日本", "东京", "英伟达"}.__contains__
    glossed = lexicon.glosses("the Japanese keynote in Tokyo", chinese)
    assert glossed == [("japanese", ["日本"]), ("tokyo", ["东京"])]
    # a capitalised word the documents hold as written is searched as written
    assert lexicon.glosses("Which NVIDIA GPU", chinese) == [("nvidia", ["英伟达"])]
    assert lexicon.glosses("Which NVIDIA GPU", lambda w: True) == []


def test_hyphenated_words_are_looked_up_by_their_parts_and_a_verb_by_its_noun(tmp_path: Path) -> None:
    table = build_table(
        _dictionary(
            tmp_path,
            "智能 智能 [zhi4 neng2] /intelligent; smart/",
            "駕駛 驾驶 [jia4 shi3] /to drive/",
            "自動駕駛 自动驾驶 [zi4 dong4 jia4 shi3] /self-driving/",
            "幻覺 幻觉 [huan4 jue2] /hallucination/",
        )
    )
    assert table["self driving"] == ["自动驾驶"]  # a hyphenated gloss is read as its words
    assert "hallucination" in lemmas("hallucinated") and "hallucination" in lemmas("hallucinating")
    lexicon = Lexicon()
    lexicon._table = table
    known = {"智能", "驾驶", "自动驾驶", "幻觉"}.__contains__
    # the head word of a two-word gloss is a weaker sense: "driving" is 自动驾驶 too
    smart_driving = [("smart", ["智能"]), ("driving", ["自动驾驶", "驾驶"])]
    assert lexicon.glosses("the smart-driving field", known) == smart_driving
    assert lexicon.glosses("its self-driving model", known) == [("self driving", ["自动驾驶"])]
    assert lexicon.glosses("how models hallucinated", known) == [("hallucinated", ["幻觉"])]


def test_an_acronym_in_brackets_names_the_word_but_never_over_an_english_word(tmp_path: Path) -> None:
    table = build_table(
        _dictionary(
            tmp_path,
            "台積電 台积电 [Tai2 ji1 dian4] /Taiwan Semiconductor Manufacturing Co. (TSMC), founded 1987/",
            "世界衛生組織 世界卫生组织 [Shi4 jie4 Wei4 sheng1 Zu3 zhi1] /World Health Organization (WHO)/",
            "中央處理機 中央处理机 [zhong1 yang1 chu3 li3 ji1] /central processing unit (CPU)/",
            "北約 北约 [Bei3 yue1] /NATO (abbr.)/",
            "芯片 芯片 [xin1 pian4] /chip/",
            "晶片協會 晶片协会 [jing1 pian4 xie2 hui4] /Computer Hardware Industry Panel (CHIP)/",
        )
    )
    assert table["tsmc"] == ["台积电"] and table["cpu"] == ["中央处理机"]
    # an acronym that is a word ("CHIP": chip) or a stop word ("WHO": who) does not stand for it
    assert table["chip"] == ["芯片"] and "who" not in table
    assert "abbr" not in table and "nato" in table  # a name before brackets is read as before
    lexicon = Lexicon()
    lexicon._table = table
    assert lexicon.glosses("compared to TSMC", {"台积电"}.__contains__) == [("tsmc", ["台积电"])]


def test_a_table_built_by_older_rules_is_deleted_when_the_new_one_is_saved(tmp_path: Path) -> None:
    dictionary = _dictionary(tmp_path, "日本 日本 [Ri4 ben3] /Japan/")
    for old in ("lexicon.pickle", "lexicon-2.pickle", "lexicon-3.pickle"):
        (tmp_path / old).write_bytes(b"old")
    (tmp_path / "lexicon-notes.pickle").write_bytes(b"not ours")
    lexicon = Lexicon(tmp_path / LEXICON_FILE)
    with patch("rag.text.crosslingual.dictionary_file", return_value=dictionary):
        assert lexicon.table()["japan"] == ["日本"]
    assert sorted(p.name for p in tmp_path.glob("*.pickle")) == sorted([LEXICON_FILE, "lexicon-notes.pickle"])


_CHIP = "# 北极星芯片\n\n星河公司发布了北极星芯片，内存带宽为12TB/s。\n\n北极星芯片将于明年量产。\n"
_SERVER = (
    "# 天狼星服务器\n\n云海公司的天狼星服务器搭载了Orion处理器，功耗为800瓦。\n\n天狼星服务器面向数据中心。\n"
)


@pytest.fixture(scope="module")
def two_products(assistant_over: Callable[[dict[str, str]], Assistant]) -> Assistant:
    return assistant_over({"chip.md": _CHIP, "server.md": _SERVER})


def test_the_documents_that_hold_a_word(two_products: Assistant) -> None:
    assert two_products.retriever.documents_with("orion") == {"server.md"}
    assert two_products.retriever.documents_with("北极星") == {"chip.md"}
    assert two_products.retriever.documents_with("华为") == frozenset()


@pytest.mark.parametrize("question", ["Orion处理器的内存带宽是多少？", "华为芯片的内存带宽是多少？"])
def test_the_answer_model_sees_a_figure_of_another_product(two_products: Assistant, question: str) -> None:
    # no hard gate: that the chip's document does not speak of the name is a feature of its candidates
    parts = two_products.extractive.evidence(question, two_products.retrieve(question))
    rows = {c.first.passage.source: r for c, r in zip(parts[0].candidates, parts[0].rows)}
    assert rows["chip.md"][FEATURES.index("names_document")] == 0


def test_a_figure_of_the_product_named_answers(two_products: Assistant) -> None:
    answer = two_products.ask("北极星芯片的内存带宽是多少？")
    assert not answer.abstained and answer.citations[0].source == "chip.md" and "12TB" in answer.text
