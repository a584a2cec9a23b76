"""`rag.verify` and `rag verify`: any answer's [n] citations against numbered passages, the fitted
claim verifier behind them, its benchmark and its shipped weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import Passage, Verification, verify
from rag.app.cli import main
from rag.errors import InputError
from rag.evaluation.replies import Labelled, Outcome, Reply, keep_all, score
from rag.text.clean import fold
from rag.text.quantities import all_quantities, found_quantity
from rag.verification.claims import FEATURES, model
from rag.verification.reply import read_passages

ROOT = Path(__file__).resolve().parents[1]
FACTORY = (
    "黄仁勋宣布与SoftBank合作，在日本建设一个拥有25艾字节算力的AI工厂，并利用SoftBank的网络基础设施构建"
    "一个覆盖全日本的AI网络（AI Grid），将AI能力扩展到各个领域。"
)
POWER = "目前，英伟达正在建设的一座AI工厂，电力需求高达1000兆瓦，也就是1吉瓦。而且，建一座AI工厂的成本，高达600亿美元。"  # noqa: E501
CAR = "演讲中，英伟达明确了将会在2026年第一季度内拿出与奔驰合作的智能驾驶汽车，这款新车将会搭载英伟达的Alpamayo自动驾驶模型。"  # noqa: E501
JAPAN = "我们在这里有许多合作伙伴，350家初创企业，25万名开发者和数百家公司。"
BRIDGE = (
    "The Harbor Bridge opened in 1932 and carries eight lanes of traffic. Its main span is 503 metres long."
)


def kept(answer: str, passages: list[str]) -> list[bool]:
    return [s.supported for s in verify(answer, passages).sentences]


def test_a_supported_answer_is_kept_with_its_citations() -> None:
    checked = verify(
        "The AI factory in Japan will have 25 exaflops (25艾字节) of computing power [1].", [FACTORY]
    )
    assert isinstance(checked, Verification) and checked.supported
    [sentence] = checked.sentences
    assert sentence.cited == [1] and sentence.supporting == [1] and sentence.citations == [1]
    assert checked.text.endswith("[1].") and checked.citations[0].verified


def test_unsupported_sentences_are_removed_with_the_reason() -> None:
    answer = "The AI factory needs 1 GW of power [1]. It costs $600 billion [1]."
    checked = verify(answer, [POWER])
    assert checked.text == "The AI factory needs 1 GW of power [1]."
    assert [s.supported for s in checked.sentences] == [True, False]
    assert checked.unsupported[0].reason == "the figure 600 is not in the cited passages"
    assert checked.to_dict()["sentences"][1]["supported"] is False


def test_citations_are_repaired_and_renumbered() -> None:
    checked = verify(
        "英伟达正在建设的AI工厂电力需求为1000兆瓦[1]。日本的AI工厂有25艾字节算力[2]。", [FACTORY, POWER]
    )
    assert [s.citations for s in checked.sentences] == [[2], [1]]
    assert all(s.repaired for s in checked.sentences)
    assert checked.text == "英伟达正在建设的AI工厂电力需求为1000兆瓦[1]。日本的AI工厂有25艾字节算力[2]。"
    assert [c.text for c in checked.citations] == [POWER, FACTORY]


def test_out_of_range_markers_are_dropped() -> None:
    checked = verify("日本的AI工厂将拥有25艾字节算力[1][7]。", [FACTORY])
    assert checked.dropped == [7] and "[7]" not in checked.text


@pytest.mark.parametrize(
    ("answer", "supported"),
    [
        ("Building one AI factory costs $60 billion [1].", True),  # 600亿美元
        ("Building one AI factory costs $600 billion [1].", False),
        ("The AI factory needs one gigawatt of power [1].", True),  # 1000兆瓦 = 1吉瓦
        ("The AI factory needs 100 MW of power [1].", False),
        ("一座AI工厂的成本高达六百亿美元[1]。", True),  # a figure in words
        ("一座AI工厂的成本高达两千亿美元[1]。", False),
    ],
)
def test_figures_are_read_with_their_units_scales_and_words(answer: str, supported: bool) -> None:
    assert kept(answer, [POWER]) == [supported]


def test_numbers_in_words_and_fractions_are_figures() -> None:
    def values(text: str) -> list[float]:
        return [q.value for q in all_quantities(fold(text))]

    assert values("六十年") == [60.0] and values("两千亿") == [2e11] and values("sixty years") == [60.0]
    assert values("十分之一") == [0.1] and values("十分重要") == [] and values("one of them") == []
    assert found_quantity(all_quantities(fold("六十"))[0], all_quantities(fold("60年")))


def test_a_swapped_name_or_a_changed_count_is_not_supported() -> None:
    bridge = "The bridge was designed by engineer John Bradfield. About 1,400 workers built it in 8 years."
    assert kept("The bridge was designed by the engineer John Bradfield [1].", [bridge]) == [True]
    assert kept("The bridge was designed by the engineer Ralph Freeman [1].", [bridge]) == [False]
    assert kept("About 1,400 workers built it in eight years [1].", [bridge]) == [True]
    assert kept("About 1,400 workers built it in eighteen years [1].", [bridge]) == [False]
    assert kept("英伟达在日本有350家初创企业合作伙伴[1]。", [JAPAN.replace("我们", "英伟达在日本")]) == [True]
    assert kept("英伟达在日本有530家初创企业合作伙伴[1]。", [JAPAN.replace("我们", "英伟达在日本")]) == [
        False
    ]


def test_general_knowledge_citing_a_passage_is_not_supported() -> None:
    answer = (
        "The Harbor Bridge opened in 1932 [1]. It is one of the most photographed bridges in the world [1]."
    )
    assert kept(answer, [BRIDGE]) == [True, False]


def test_passages_may_be_passage_objects_and_bad_input_is_refused() -> None:
    passage = Passage("p1", "power.txt", POWER, 0.0, 29, 31)
    checked = verify("英伟达的AI工厂电力需求为1吉瓦[1]。", [passage])
    assert checked.citations[0].source == "power.txt" and checked.citations[0].start_line == 29
    with pytest.raises(InputError, match="Passage 1 is a int"):
        verify("x [1].", [3])  # type: ignore[list-item]
    with pytest.raises(InputError, match="must be a string"):
        verify(None, [POWER])  # type: ignore[arg-type]


def test_passage_files_in_every_documented_form(tmp_path: Path) -> None:
    plain = tmp_path / "p.txt"
    plain.write_text(f"{FACTORY}\n\n\n{POWER}\n", encoding="utf-8")
    listed = tmp_path / "p.json"
    listed.write_text(json.dumps([FACTORY, POWER], ensure_ascii=False), encoding="utf-8")
    objects = tmp_path / "o.json"
    objects.write_text(json.dumps([{"text": FACTORY}, {"text": POWER}], ensure_ascii=False), encoding="utf-8")
    assert read_passages(plain) == read_passages(listed) == read_passages(objects) == [FACTORY, POWER]
    broken = tmp_path / "b.json"
    broken.write_text("[1, 2", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        read_passages(broken)
    with pytest.raises(InputError, match="Cannot read the passages file"):
        read_passages(tmp_path / "missing.txt")


def test_the_verify_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    passages = tmp_path / "passages.txt"
    passages.write_text(f"{FACTORY}\n\n{POWER}\n", encoding="utf-8")
    answer = tmp_path / "answer.txt"
    answer.write_text("The AI factory needs 1 GW of power [2]. It costs $600 billion [2].", encoding="utf-8")
    assert main(["verify", "--passages", str(passages), "--answer", str(answer)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The AI factory needs 1 GW of power [1].")
    assert "Removed: It costs $600 billion [2]." in out and "1 of 2 sentences supported" in out
    assert main(["verify", "--passages", str(passages), "--answer", str(answer), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["supported"] for s in data["sentences"]] == [True, False]
    assert main(["verify", "--passages", str(passages), "--answer", str(tmp_path / "none.txt")]) == 2
    assert "Cannot read the answer file" in capsys.readouterr().err


def test_the_benchmark_measures_are_counted_over_claim_sentences() -> None:
    def labelled(supported: bool, claim: bool = True) -> Labelled:
        return Labelled("s", claim, supported, [1], [1] if supported else [])

    reply = Reply(
        "i",
        "good",
        "",
        "q",
        [],
        [labelled(True), labelled(True), labelled(False), labelled(False, claim=False)],
    )
    decisions = [Outcome(True, [1]), Outcome(False), Outcome(True, [1]), None]
    m = score([reply], lambda _: decisions)["all"]
    assert (m["sentences"], m["keep_precision"], m["keep_recall"], m["unsupported_removed"]) == (
        3,
        0.5,
        0.5,
        0.0,
    )
    assert m["citation_repair"] == 0.5
    baseline = score([reply], keep_all)["all"]
    assert baseline["keep_recall"] == 1.0 and baseline["unsupported_removed"] == 0.0


def test_the_shipped_weights_are_what_the_fitting_script_writes() -> None:
    pytest.importorskip("sklearn")
    from eval.tune_verifier import OUTPUT, SECTION, fit, tuning_replies

    fitted = fit(tuning_replies())
    assert json.loads(OUTPUT.read_text(encoding="utf-8"))[SECTION] == fitted
    assert model().names == FEATURES and 0.0 < model().threshold < 1.0


def test_the_replies_benchmark_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("own-tune", "own-unseen"):  # one question of each: a tuning set and an unseen one
        source = ROOT / "eval" / "replies" / name
        items = json.loads((source / "items.json").read_text(encoding="utf-8"))[:1]
        replies = [
            line for line in (source / "replies.jsonl").read_text(encoding="utf-8").splitlines()
            if json.loads(line)["item"] == items[0]["id"]
        ]  # fmt: skip
        folder = tmp_path / name
        folder.mkdir()
        (folder / "items.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
        (folder / "replies.jsonl").write_text("\n".join(replies) + "\n", encoding="utf-8")
    assert main(["eval", "--replies", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for group in ("tuning", "unseen"):
        assert f"| {group} | all | verifier |" in out and f"| {group} | all | keep all |" in out
        assert f"| {group} | all | similarity |" in out
    assert "threshold (fitted on the tuning sets)" in out
