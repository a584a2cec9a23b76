"""Metrics and loading of the evaluation harness on small hand-made cases (no index is built)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from rag.errors import InputError
from rag.evaluation.harness import CONFIGS, EvalItem, check_configs, load_eval, run_eval
from rag.evaluation.metrics import (
    aggregate,
    answer_sentences,
    bootstrap_interval,
    citation_precision_counts,
    citation_recall_counts,
    hit_at,
    ideal_count,
    matches_facts,
    ndcg,
    novel_gains,
    paired,
    percentile,
    quote_keys,
    reciprocal_rank,
    relevant_ranks,
    sign_test,
)
from rag.evaluation.report import bar_chart, comparison_text, markdown_table
from rag.schema import Answer, Citation


def patterns(*groups: list[str]) -> list[list[re.Pattern[str]]]:
    return [[re.compile(rx) for rx in group] for group in groups]


def citation(number: int, text: str) -> Citation:
    return Citation(number=number, source="x.txt", text=text, quote="", start_line=1, end_line=1)


# --- retrieval -----------------------------------------------------------------------------------


def test_hit_and_reciprocal_rank_first_relevant_at_rank_3() -> None:
    ranks = [3, 7]
    assert hit_at(ranks, 1) == 0.0
    assert hit_at(ranks, 3) == 1.0
    assert hit_at(ranks, 5) == 1.0
    assert reciprocal_rank(ranks) == pytest.approx(1 / 3)


def test_nothing_relevant_scores_zero() -> None:
    assert hit_at([], 10) == 0.0
    assert reciprocal_rank([]) == 0.0
    assert reciprocal_rank([11], depth=10) == 0.0
    assert ndcg([0] * 10, 1) == 0.0
    assert ndcg([1, 0], 0) == 0.0  # no findable quote: nothing to reward


def test_ndcg_two_relevant_at_ranks_1_and_3() -> None:
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) = 1.63093
    assert ndcg([1, 0, 1, 0, 0], 2) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg([1, 0, 1, 0, 0], 2) == pytest.approx(0.91972, abs=1e-5)


def test_ndcg_single_relevant_at_rank_2_and_perfect_ranking() -> None:
    assert ndcg([0, 1, 0], 1) == pytest.approx(1 / math.log2(3))  # 0.63093
    assert ndcg([1, 1, 0], 2) == pytest.approx(1.0)


def test_ndcg_ideal_is_capped_at_k() -> None:
    assert ndcg([1] * 10, 12) == pytest.approx(1.0)


def test_relevance_folds_traditional_script_and_pinyin_of_the_quote() -> None:
    keys = quote_keys(["電力需求高達(dá)1000兆瓦"])
    texts = ["英伟达的股价上涨。", "一座AI工厂，电力需求高达1000兆瓦，也就是1吉瓦。", "无关"]
    assert relevant_ranks(texts, keys) == [2]


def test_relevant_ranks_stop_at_depth() -> None:
    keys = quote_keys(["二十五艾字节算力"])
    texts = ["无关"] * 10 + ["拥有二十五艾字节算力"]
    assert relevant_ranks(texts, keys, depth=10) == []
    assert relevant_ranks(texts, keys, depth=11) == [11]


def test_novel_gains_count_a_quote_once() -> None:
    keys = quote_keys(["甲乙丙丁戊己", "子丑寅卯辰巳"])
    texts = ["……甲乙丙丁戊己……", "重叠：甲乙丙丁戊己", "子丑寅卯辰巳", "甲乙丙丁戊己子丑寅卯辰巳"]
    assert novel_gains(texts, keys) == [1, 0, 1, 0]


def test_ideal_count_matches_quotes_to_distinct_passages() -> None:
    a, b = quote_keys(["甲乙丙丁戊己", "子丑寅卯辰巳"])
    assert ideal_count(["甲乙丙丁戊己与子丑寅卯辰巳"], [a, b]) == 1  # both in one passage
    assert ideal_count(["甲乙丙丁戊己", "子丑寅卯辰巳", "无关"], [a, b]) == 2
    # b is in both passages, a only in the first: a matching still finds two
    assert ideal_count(["甲乙丙丁戊己，子丑寅卯辰巳", "子丑寅卯辰巳"], [a, b]) == 2
    assert ideal_count(["无关"], [a, b]) == 0  # not findable
    assert ideal_count(["甲乙丙丁戊己", "子丑寅卯辰巳"], [a, b], cap=1) == 1


# --- facts ---------------------------------------------------------------------------------------


def test_fact_matching_accepts_traditional_script() -> None:
    facts = patterns([r"(?<![\d.,])90\s*分钟", r"(?<![\d.,])90\s*-?\s*min"])
    assert matches_facts("英偉達的黃仁勛發表了長達90分鐘演講[1]", facts)
    assert matches_facts("The keynote lasted 90 minutes.", facts)
    assert not matches_facts("長達190分鐘", facts)


def test_fact_matching_needs_every_group() -> None:
    facts = patterns(["(?<![\\d.,])25\\s*艾"], ["1\\s*吉瓦", "1\\s*gw\\b"])
    assert matches_facts("算力为25艾字节[1]，电力需求1吉瓦[2]。", facts)
    assert not matches_facts("算力为25艾字节[1]。", facts)
    assert not matches_facts("任何文字", [])


def test_citation_markers_do_not_make_numbers() -> None:
    facts = patterns([r"(?<![\d.,])10\s*%"])
    assert not matches_facts("成本降低1[1]0%", facts)


# --- citations -----------------------------------------------------------------------------------


def test_answer_sentences_split_at_punctuation_and_markers() -> None:
    assert answer_sentences("算力为25艾字节。[1]电力需求1吉瓦。[2]") == [
        ("算力为25艾字节。", {1}),
        ("电力需求1吉瓦。", {2}),
    ]
    assert answer_sentences("算力25艾[1]，电力1吉瓦[2][3]。没有引用的结论。") == [
        ("算力25艾", {1}),
        ("，电力1吉瓦", {2, 3}),
        ("。没有引用的结论。", set()),
    ]
    english = "The documents say (quoted in their original language): “拥有25艾字节算力。”[1] “另一句”[2]"
    assert [n for _, n in answer_sentences(english)] == [{1}, {2}]
    assert answer_sentences("Both [1, 2] agree!") == [("Both", {1, 2}), ("agree!", set())]


def test_citation_precision_counts_quote_or_fact_holders() -> None:
    keys = quote_keys(["建成後，它將擁有25艾字節AI算力"])
    facts = patterns([r"(?<![\d.,])25\s*艾", r"25\s*exa"])
    answer = Answer(
        "q",
        "…[1]…[2]…[3]",
        citations=[
            citation(1, "建成后，它将拥有25艾字节AI算力。"),  # holds the gold quote
            citation(2, "这个AI工厂拥有25艾字节的算力"),  # holds the fact, not the quote
            citation(3, "软银成立于1981年。"),  # neither
        ],
    )
    assert citation_precision_counts(answer, keys, facts) == (2, 3)
    abstained = Answer("q", "文档中没有找到这个问题的答案。", abstained=True)
    assert citation_precision_counts(abstained, keys, facts) == (0, 0)


def test_citation_recall_counts_fact_sentences_citing_a_holder() -> None:
    facts = patterns([r"(?<![\d.,])25\s*艾"], [r"1\s*吉瓦"])
    answer = Answer(
        "q",
        "算力为25艾字节。[1]电力需求为1吉瓦。[2]另有1吉瓦的说法。黄仁勋发表了演讲。[1]",
        citations=[citation(1, "它将拥有25艾字节AI算力"), citation(2, "软银成立于1981年。")],
    )
    # fact sentences: 25艾 cites [1] which holds it (ok); 1吉瓦 cites [2] which does not (miss);
    # 1吉瓦 without a marker (miss); the last sentence carries no fact (not counted)
    assert citation_recall_counts(answer, facts) == (1, 3)


def test_citation_recall_needs_every_fact_of_a_sentence() -> None:
    facts = patterns([r"25\s*艾"], [r"1\s*吉瓦"])
    answer = Answer(
        "q",
        "25艾字节算力和1吉瓦电力。[1][2]",
        citations=[citation(1, "拥有25艾字节算力"), citation(2, "电力需求1吉瓦")],
    )
    assert citation_recall_counts(answer, facts) == (1, 1)
    answer.citations = answer.citations[:1]
    assert citation_recall_counts(answer, facts) == (0, 1)


# --- aggregation and reporting -------------------------------------------------------------------


def _row(
    lang: str,
    answerable: bool,
    fact_ok: bool = False,
    abstained: bool = False,
    ranks: list[int] | None = None,
    latency: float = 10.0,
) -> dict[str, Any]:
    row: dict[str, Any] = {"lang": lang, "answerable": answerable, "abstained": abstained}
    row["latency_ms"] = latency
    if answerable:
        ranks = ranks or []
        gains = [1 if i + 1 in ranks[:1] else 0 for i in range(10)]
        row.update(
            relevant_ranks=ranks,
            findable=1,
            gains=gains,
            fact_ok=fact_ok,
            cite_precision=(1, 2),
            cite_recall=(1, 1),
        )
    return row


def test_aggregate_by_hand() -> None:
    rows = [
        _row("zh", True, fact_ok=True, ranks=[1], latency=10),
        _row("en", True, fact_ok=False, ranks=[4], latency=20),
        _row("en", True, abstained=True, latency=30),
        _row("zh", False, abstained=True, latency=40),
        _row("en", False, abstained=False, latency=50),
    ]
    m = aggregate(rows)
    assert m["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["hit@5"] == m["hit@10"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["mrr"] == pytest.approx((1 + 0.25) / 3, abs=1e-4)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(5)) / 3, abs=1e-4)
    assert m["fact_acc"] == pytest.approx(1 / 3, abs=1e-4)
    assert (m["fact_acc_zh"], m["fact_acc_en"]) == (1.0, 0.0)
    assert (m["cite_p"], m["cite_r"]) == (0.5, 1.0)
    assert m["abstain_ok"] == 0.5
    assert m["wrong_abstain"] == pytest.approx(1 / 3, abs=1e-4)
    assert (m["p50_ms"], m["p95_ms"]) == (30.0, 48.0)
    assert (m["answerable"], m["unanswerable"]) == (3, 2)


def test_aggregate_without_items_gives_none() -> None:
    m = aggregate([])
    assert m["hit@1"] is None and m["cite_p"] is None and m["p50_ms"] is None
    assert percentile([], 50) is None


def _result() -> dict[str, Any]:
    metrics = aggregate([_row("zh", True, fact_ok=True, ranks=[1]), _row("zh", False, abstained=True)])
    return {"k": 5, "depth": 10, "items": 2, "configs": {"hybrid": {"metrics": metrics, "items": []}}}


def test_markdown_table_has_one_row_per_config() -> None:
    lines = markdown_table(_result()).splitlines()
    assert lines[0].split("|")[1:-1] == [
        " config ",
        " hit@1 ",
        " hit@5 ",
        " hit@10 ",
        " MRR ",
        " nDCG@10 ",
        " fact_acc ",
        " fact_acc_zh ",
        " fact_acc_en ",
        " cite_P ",
        " cite_R ",
        " abstain_ok ",
        " wrong_abstain ",
        " p50_ms ",
        " p95_ms ",
    ]
    assert len(lines) == 3
    cells = [c.strip() for c in lines[2].split("|")[1:-1]]
    assert cells[:3] == ["hybrid", "1.000", "1.000"]
    assert cells[8] == "–"  # no English question
    assert cells[-1] == "10.0"


def test_bootstrap_interval_of_a_mean() -> None:
    assert bootstrap_interval([]) is None
    assert bootstrap_interval([1.0] * 20) == [1.0, 1.0]
    low, high = bootstrap_interval([1.0] * 30 + [0.0] * 10) or [0.0, 0.0]
    assert low < 0.75 < high and high - low > 0.15  # 40 questions: wide
    assert bootstrap_interval([1.0] * 30 + [0.0] * 10) == [low, high]  # the same every run
    low400, high400 = bootstrap_interval([1.0] * 300 + [0.0] * 100) or [0.0, 0.0]
    assert high400 - low400 < (high - low) / 2  # ten times the questions: about a third as wide


def test_sign_test_by_hand() -> None:
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 5) == 1.0
    assert sign_test(3, 1) == pytest.approx(2 * 5 / 16, abs=1e-4)  # P(≤1 of 4) = 5/16, two-sided
    assert sign_test(10, 0) == pytest.approx(2 / 1024, abs=1e-4)
    assert sign_test(0, 10) == sign_test(10, 0)


def test_paired_counts_what_only_one_configuration_gets_right() -> None:
    def row(qid: str, fact_ok: bool, ranks: list[int]) -> dict[str, Any]:
        return {**_row("zh", True, fact_ok=fact_ok, ranks=ranks), "id": qid}

    base = [row("a", True, [1]), row("b", True, [7]), row("c", False, [2]), row("d", True, [1])]
    other = [row("a", False, [6]), row("b", True, [1]), row("c", True, [2]), row("d", False, [1])]
    other.append({**_row("zh", False, abstained=True), "id": "e"})  # unanswerable: not compared
    result = paired(base, other)
    assert result["fact_acc"] == {"wins": 2, "losses": 1, "p": 1.0}
    assert result["hit@5"] == {"wins": 1, "losses": 1, "p": 1.0}


def test_comparison_text_gives_intervals_and_the_paired_counts() -> None:
    result = _result()
    result["paired_with_hybrid"] = {"bm25": {"fact_acc": {"wins": 6, "losses": 1, "p": 0.125}}}
    text = comparison_text(result)
    assert "- hybrid: hit@5 1.00–1.00, mrr 1.00–1.00, fact_acc 1.00–1.00" in text
    assert "hybrid against bm25, question by question: fact_acc 6 won / 1 lost (p = 0.125)" in text


def test_bar_chart_writes_png(tmp_path: Path) -> None:
    path = bar_chart(_result(), tmp_path / "out" / "eval.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- loading and configurations ------------------------------------------------------------------

GOOD = {
    "id": "q1",
    "question": "算力多少？",
    "lang": "zh",
    "answerable": True,
    "facts": [["25\\s*艾"]],
    "sources": ["a.txt"],
    "quotes": ["拥有25艾字节AI算力"],
}


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _line(**changes: Any) -> str:
    data = {**GOOD, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...}, ensure_ascii=False)


def test_load_eval_reads_items(tmp_path: Path) -> None:
    unanswerable = _line(id="q2", question="谁赢了？", answerable=False, facts=[], sources=[], quotes=[])
    items = load_eval(_write(tmp_path, _line(), "", unanswerable))
    assert [i.id for i in items] == ["q1", "q2"]
    assert items[0].line == 1 and items[1].line == 3
    assert isinstance(items[0], EvalItem)
    assert items[0].patterns[0][0].search("25 艾")
    assert items[0].keys == ["拥有25艾字节ai算力"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"id": "q2", "question": ', "not valid JSON"),
        ('["a list"]', "JSON object"),
        (_line(id="q2", quotes=...), "missing key(s) quotes"),
        (_line(id="q2", answerable="yes"), "'answerable'"),
        (_line(id="q2", lang="fr"), "'lang'"),
        (_line(id="q2", facts=["25艾"]), "'facts'"),
        (_line(id="q2", facts=[["(25艾"]]), "fact regex '(25艾' is not valid"),
        (_line(id="q2", sources="a.txt"), "'sources'"),
        (_line(id="q2", question=" "), "'question'"),
        (_line(), "id 'q1' is already used on line 1"),
    ],
)
def test_load_eval_names_the_bad_line(tmp_path: Path, bad: str, message: str) -> None:
    path = _write(tmp_path, _line(), bad)
    with pytest.raises(InputError) as info:
        load_eval(path)
    assert "line 2" in str(info.value)
    assert message in str(info.value)


def test_load_eval_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="No evaluation file"):
        load_eval(tmp_path / "nope.jsonl")
    with pytest.raises(InputError, match="holds no questions"):
        load_eval(_write(tmp_path, ""))


def test_unknown_config_lists_the_valid_ones() -> None:
    with pytest.raises(InputError) as info:
        run_eval(object(), [], configs=["hybrid", "magic"])  # type: ignore[arg-type]
    message = str(info.value)
    assert "'magic'" in message
    for name in ("hybrid", "dense", "bm25", "llamaindex"):
        assert name in message


def test_config_names() -> None:
    assert list(CONFIGS) == ["hybrid", "dense", "bm25", "llamaindex", "llm"]
    assert check_configs(None) == ["hybrid", "dense", "bm25", "llamaindex"]
    assert check_configs("bm25, dense,bm25") == ["bm25", "dense"]
    with pytest.raises(InputError):
        check_configs([])


def test_llm_config_without_an_endpoint_says_what_to_set() -> None:
    class Offline:
        llm = None

    with pytest.raises(InputError, match="OPENAI_BASE_URL"):
        run_eval(Offline(), [], configs=["llm"])  # type: ignore[arg-type]
