"""Evidence from the passages: sentences with their lines, question terms and what the question asks for."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rag.chunk import continues
from rag.clean import fold
from rag.crosslingual import ENGLISH_STOP, Gloss, lemmas
from rag.schema import Passage
from rag.tokens import is_chinese, sentences, tagged, words

_NUMBER = re.compile(
    r"\d|(?:[二两三四五六七八九十]|一[十百千万亿]|[百千]万)[一二两三四五六七八九十百千万亿]*"
    r"(?:个|倍|家|年|人|名|次|座|台|款|种|项|位|亿|万|成(?![为立功本长]))"
)
_DATE = re.compile(r"\d{4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|\b(19|20)\d\d\b|\d{4}-\d{1,2}")
_ASKS_NUMBER = re.compile(
    r"多少|几[个位家年倍次座台款种项名]|多大|多高|多长|多快|多久|比例|百分之"
    r"|how (much|many|large|big|fast|long)"
    r"|what (is|was|were) the (number|amount|size|scale|capacity|power|speed)"
)
_ASKS_DATE = re.compile(
    r"什么时候|何时|哪一?年|哪一?天|几月|几号|哪个月|日期"
    # "when" asks a date only as a question word ("when did…"), not as a conjunction ("when he explained…")
    r"|\bwhen (did|does|do|is|was|were|will|would|has|have|had|can|could)\b"
    r"|what (year|date|day|month)|which (year|date|day)"
)


@dataclass
class Sentence:
    """A sentence of a retrieved passage, with the file line it stands on."""

    passage: Passage
    rank: int
    line: int
    text: str
    folded: str


def split_passages(passages: Sequence[Passage]) -> list[Sentence]:
    """Every sentence of every passage, in rank order, with its line number."""
    out = []
    for rank, passage in enumerate(passages):
        lines = passage.text.split("\n")
        numbers = list(passage.line_numbers) or [passage.start_line] * len(lines)
        paragraphs: list[tuple[int, str]] = []
        previous = -1
        for line_text, number in zip(lines, numbers):
            if paragraphs and continues(paragraphs[-1][1], previous, number):
                glue = " " if paragraphs[-1][1][-1:].isascii() and line_text[:1].isascii() else ""
                paragraphs[-1] = (paragraphs[-1][0], paragraphs[-1][1] + glue + line_text)
            else:
                paragraphs.append((number, line_text))
            previous = number
        for number, text in paragraphs:
            for sentence in sentences(text):
                out.append(Sentence(passage, rank, number, sentence, fold(sentence)))
    return out


def question_terms(
    question: str, idf: Callable[[str], float], glosses: Sequence[Gloss] = ()
) -> dict[str, float]:
    """Content words of the question with their weights (rarer terms weigh more).

    `glosses` pair words of a question in another language with their dictionary translations; such
    a word becomes one term `word|译文|译名`, present when any alternative is, weighed by its
    translations. Function words of such a question ("each", "say") are not terms.
    """
    terms: dict[str, float] = {}
    glossed: set[str] = set()
    for source, found in glosses:
        if found:
            terms["|".join([source, *found])] = max(idf(w) for w in found)
            glossed.update(source.split())
    other = not is_chinese(question)
    for term in words(fold(question)):
        if len(term) == 1 and not term.isascii():
            continue  # single Han characters say little on their own
        if term in glossed or (other and term in ENGLISH_STOP):
            continue
        terms[term] = max(terms.get(term, 0.0), idf(term))
    # a compound whose parts are also terms counts once, through its parts
    for term in [t for t in terms if "|" not in t]:
        parts = [t for t in terms if t != term and "|" not in t and t in term]
        if len(parts) >= 2:
            del terms[term]
    return terms


# jieba's flags for names: people (and transliterated ones), organisations, other proper nouns,
# Latin-script words. Places (`ns`) are left out: jieba tags common nouns such as 城市 as places.
_NAME_FLAGS = frozenset({"nr", "nrt", "nt", "nz", "eng"})
_LATIN_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9-]*")


@dataclass(frozen=True)
class Name:
    """A name the question gives ("Vera Rubin", 华为): the documents' forms it may take."""

    forms: tuple[str, ...]  # folded: the name's words, their base forms and dictionary translations
    # written as the documents would write it (a Chinese name in a Chinese question): a name no
    # document holds is then one they do not speak of; a name in another language may just lack
    # a translation
    as_written: bool


def question_names(question: str, translate: Callable[[str], list[Gloss]] | None = None) -> list[Name]:
    """The names a question gives: what it is about, so an answer must come from a document that
    speaks of them.

    In an English question, a name is a capitalised word after the first, or an acronym or a code;
    capitalised words in a row make one name ("Vera Rubin"), found when any of its words is. In a
    Chinese question, the words jieba tags as names."""
    if is_chinese(question):
        return [
            Name((word,), flag != "eng")
            for word, flag in tagged(fold(question))
            if flag in _NAME_FLAGS and len(word) > 1
        ]
    groups: list[list[str]] = []
    joinable, end = False, -1  # was the word before a capitalised name word, and where it ended
    for i, match in enumerate(_LATIN_WORD.finditer(question)):
        word = match.group(0)
        name = (
            i > 0
            and len(word) > 1
            and word.lower() not in ENGLISH_STOP
            and (word[0].isupper() or any(c.isdigit() for c in word))
        )
        titled = name and word[0].isupper() and not word.isupper()
        if titled and joinable and question[end : match.start()] == " ":
            groups[-1].append(word)
        elif name:
            groups.append([word])
        joinable, end = titled, match.end()
    names = []
    for group in groups:
        forms: list[str] = []
        for word in group:
            forms += lemmas(word.lower())
            forms += [w for _, found in (translate(word.lower()) if translate else []) for w in found]
        names.append(Name(tuple(dict.fromkeys(forms)), False))
    return names


def present(term: str, folded: str) -> bool:
    """Does the text contain the term (or one of its `|`-separated alternatives)."""
    return any(a in folded for a in term.split("|"))


def coverage(terms: dict[str, float], folded: str) -> float:
    """Weighted share of the question's terms that occur in the text."""
    total = sum(terms.values())
    if not total:
        return 0.0
    return sum(w for t, w in terms.items() if present(t, folded)) / total


# h20, gpt-4, 5g, r1: names, not amounts (but 192gb, 1gw, 10ms are amounts with a unit)
_CODE = re.compile(
    r"[a-z]+-?\d+[a-z\d]*|\d+(?!(?:[kmgtpe]?(?:b|w|flops|hz)|[mk]?g|ms|nm|mm|cm|km|kg|x)(?![a-z\d]))[a-z]+\d*(?![a-z])"
)
_DURATION = re.compile(
    r"(?<!\d)(\d{1,3}|[一二两三四五六七八九十半几数])\s*"
    r"(秒|分钟|小时|天|周|星期|个月|年|seconds?|minutes?|hours?|days?|weeks?|months?|years?)"
)
_MONEY = re.compile(
    # a bare 亿/万 is money only when no counter follows: "1040亿个晶体管" counts things
    # (a magnitude alone is no amount: "万亿参数")
    r"(\d|[一二两三四五六七八九十])[\d.,百千万亿]*\s*(美元|元|美金|刀|(亿|万)(?![个台颗人名家次座款种项条位]))"
    r"|\$\s*\d|\d\s*(dollars|usd|yuan|billion|million)"
)
_ASKS_DURATION = re.compile(
    r"多长时间|多久|多少(分钟|小时|天|年)|how long|how many (minutes|hours|days|weeks|months|years)"
)
_ASKS_MONEY = re.compile(
    r"多少钱|售价|价格|价钱|造价|成本|花费|投资了?多少|多少(美元|元|亿美元)|市值|估值"
    r"|how much money|\bcost|\bprice|how much .*(invest|pay|spend)|market (value|cap)|valuation"
)
_ASKS_AUTHOR = re.compile(r"作者|谁写的|撰文|署名|who (wrote|authored)|\bauthor|\bbyline|written by")
# a byline: "作者 | 某某", "文 | 某某", "文章作者: 某某", "By …"
_BYLINE = re.compile(r"^\s*(文章?作者|作者|文|撰文|撰稿|author|by|written by)\s*[|｜:：]\s*\S")
_ASKS_NAME = re.compile(
    r"(叫|叫做|叫作|称为|称作|称之为|名为|名叫)(什么|啥)|什么名字|名称是什么|取名|命名为?什么"
    r"|what (does|do|did) [^?]{0,80}\bcall\b|\bcalled what|what is [^?]{0,40}\bcalled|what name"
)
_NAMING = re.compile(
    r"称为|称之为|称作|叫做|叫作|名为|名叫|取名|命名|所谓|\b(called|named|dubbed|known as)\b"
)
_LIST_NUMBER = re.compile(r"^\s*\d{1,2}[.、)]\s*")
_COUNTERS = "人名家个位次倍座台款种项颗条"


# Dimensions a question can name (a unit, or a word asking for one), with the units a sentence
# may state them in; the first one a question names counts ("how many times more bandwidth": times).
# A unit right after a number of the question is context ("the 1 GW factory"),
# not asked for. Any prefix of a dimension will do: petaflops are answered in exaflops too.
_BYTES = r"[a-z]*bytes?|[tgpe]b(?![a-z])|字节"
_PER_SECOND = r"(per second|/\s*s(?![a-z])|每秒)"
_DIMENSIONS: dict[str, tuple[re.Pattern[str], str]] = {
    "times": (
        re.compile(r"how many times|几倍|多少倍|倍数"),
        r"倍|times|×",
    ),
    "percent": (
        re.compile(r"percent|百分之|百分比|\bshare of\b|what (portion|fraction|proportion)|比例|占比|几成"),
        r"%|％|percent|百分之|成(?![功为本长])",
    ),
    "flops": (
        re.compile(r"[a-z]*flops\b|浮点运算"),
        r"[a-z]*flops|艾|拍|千万亿次|亿亿次|万亿次",
    ),
    # bytes per second (bandwidth) and bytes (capacity) answer different questions
    "bandwidth": (
        re.compile(rf"({_BYTES})\s*{_PER_SECOND}|带宽|频宽|bandwidth"),
        rf"({_BYTES})\s*{_PER_SECOND}",
    ),
    "bytes": (
        re.compile(
            rf"(?<![a-z])({_BYTES})(?![a-z])|多大的?(内存|显存)|(内存|显存)有?多大|how much [a-z0-9 ]*memory"
        ),
        rf"({_BYTES})(?![a-z])(?!\s*{_PER_SECOND})",
    ),
    "power": (
        re.compile(r"\b([gmk]w|[a-z]*watts?)\b|瓦"),
        r"[gmk]w\b|[a-z]*watts?|瓦",
    ),
    "weight": (
        re.compile(r"how heavy|\b(pounds|lbs|kilograms?|kg|tons|tonnes)\b|多重|重量|磅|公斤|千克|吨"),
        r"磅|公斤|千克|吨|pounds?|lbs|kg|kilograms?|tons?|tonnes?",
    ),
}


def _dimension(folded: str) -> str:
    """The dimension a (folded) question asks its number in ("" when none).

    A bare unit asks for it only in a question for a number ("how many petaflops", "in gigabytes"):
    "which region suits gigawatt AI factories" asks for a place."""
    asks_number = bool(_ASKS_NUMBER.search(folded))
    for name, (asks, unit) in _DIMENSIONS.items():
        for match in asks.finditer(folded):
            before = folded[: match.start()]
            if re.search(r"\d\s*[吉兆千太艾拍]?\s*$", before):
                continue  # "the 1 GW factory": context
            if asks_number or not re.fullmatch(unit, match.group(0)) or re.search(r"\bin\s+$", before):
                return name
    return ""


@dataclass(frozen=True)
class Expectation:
    """What kind of thing a question asks for, so a sentence without one cannot answer it."""

    kind: str = ""  # "", "number", "date", "duration", "money", "author"
    unit: str = ""  # for a count: the counter asked for (`多少人` → `人`)
    things: tuple[str, ...] = ()  # what is counted (`多少算力` → 算力; `how many chips` → 芯片, …)
    given: tuple[str, ...] = ()  # numbers the question itself holds: they are context, not the answer
    dimension: str = ""  # a key of _DIMENSIONS: the number must come with one of its units
    name: bool = False  # asks what something is called: a sentence that names a thing answers best

    def names(self, folded: str) -> bool:
        """Does the (folded) sentence name something, when a name is asked for."""
        return self.name and bool(_NAMING.search(folded))

    def met_by(self, folded: str) -> bool:
        """Does the (folded) sentence hold something of this kind."""
        if not self.kind:
            return True
        if self.kind == "author":
            return bool(_BYLINE.search(folded))
        text = _CODE.sub(" ", _LIST_NUMBER.sub("", folded))
        for number in self.given:
            text = re.sub(rf"(?<![\d.]){re.escape(number)}(?![\d.])", " ", text)
        if self.kind == "date":
            return bool(_DATE.search(text))
        if self.kind == "duration":
            return bool(_DURATION.search(text))
        if self.kind == "money":
            return bool(_MONEY.search(text))
        text = _DATE.sub(" ", text)  # a year is not an amount
        if self.dimension:
            unit = _DIMENSIONS[self.dimension][1]
            quantity = r"(\d|[一二两三四五六七八九十百千万亿半几数])"
            return bool(re.search(rf"{quantity}\s*[多余]?\s*({unit})", text))
        if self.unit:
            # "350多个", "十余家": an approximate count still counts
            # a lone 一 before the counter is the article ("一个由AI驱动的未来"), not a count, and
            # 几个 / 数个 ("several") is none either, unlike 几十个 / 数百个
            count = r"(\d|[二两三四五六七八九十百千万亿]|[一几数](?=[十百千万亿]))"
            return bool(re.search(rf"{count}\s*[多余]?\s*{self.unit}", text))
        if self.things:
            near = "|".join(re.escape(t) for t in self.things)
            quantity = r"(\d|[一二两三四五六七八九十百千万亿]|[几数](?=[十百千万亿]))"
            # the counted noun may follow a counter and a name: "九个 nvlink 交换机"
            return bool(re.search(rf"{quantity}[^。，,；;！？]{{0,12}}?({near})", text))
        return bool(_NUMBER.search(text))


def expectation(question: str, translate: Callable[[str], list[Gloss]] | None = None) -> Expectation:
    """What the question asks for: a duration, an amount of money, a date, a count, a number, or anything.

    When the question is two questions in a row (a short part of a `split_question` with the first
    part in front for context), the last one that asks says what is asked.

    For a count, what is counted is kept too: the counter (`多少人`), the noun after 多少, or the
    dictionary translations of the noun after "how many".
    """
    asking = [q for q in re.split(r"(?<=[？?])\s*", question.strip()) if _ASKS_ANY.search(fold(q))]
    last = asking[-1] if asking else question
    folded = fold(last)
    kind = replace(_kind(folded, translate), name=bool(_ASKS_NAME.search(folded)))
    acronym = re.search(r"(?i:how many)(?: [A-Za-z]+)? ([A-Z]{2,})s?\b", last)
    if kind.kind == "number" and not (kind.unit or kind.things or kind.dimension) and acronym:
        # "how many Blackwell GPUs": an acronym is written the same in every language
        kind = replace(kind, things=(acronym.group(1).lower(),))
    given = tuple(dict.fromkeys(re.findall(r"\d+(?:\.\d+)?", _CODE.sub(" ", folded))))
    return replace(kind, given=given) if kind.kind else kind


def _kind(folded: str, translate: Callable[[str], list[Gloss]] | None) -> Expectation:
    """The expectation of a folded question, before the numbers it gives are noted."""
    if _ASKS_AUTHOR.search(folded):
        return Expectation("author")
    if _ASKS_DURATION.search(folded):
        return Expectation("duration")
    if _ASKS_MONEY.search(folded):
        return Expectation("money")
    if _ASKS_DATE.search(folded):
        return Expectation("date")
    dimension = _dimension(folded)
    if dimension:
        return Expectation("number", dimension=dimension)
    if _ASKS_NUMBER.search(folded):
        match = re.search(rf"(?:多少|几)([{_COUNTERS}])", folded)
        if match:
            return Expectation("number", match.group(1))
        noun = re.search(r"多少([\u4e00-\u9fff]{2,6})", folded)
        if noun:
            first = words(noun.group(1))
            return Expectation("number", things=(first[0],) if first and len(first[0]) > 1 else ())
        english = re.search(r"how many ([a-z]+(?: [a-z]+)?)", folded)
        if english and translate:
            # the counted noun: the plural one ("how many blackwell gpus", "how many people attended")
            nouns = english.group(1).split()
            counted = next((w for w in nouns if w.endswith("s") or w == "people"), nouns[0])
            glosses = translate(counted)
            return Expectation("number", things=tuple(w for _, found in glosses for w in found))
        return Expectation("number")
    return Expectation()


_CLAUSE = re.compile(
    r"(?<=[？?])\s*|[；;]\s*|，(?=[^，]*(?:多少|什么|哪|谁|几|是否))|,\s*and\s+(?=how|what|which|who|when|where)"
)


def split_question(question: str) -> list[str]:
    """A question that asks two things, split into its parts (one part when it asks one thing).

    Clauses that ask nothing are context and go in front of each part; a short later part, like
    "and how many worldwide?", also gets the first part in front of it.
    """
    clauses = [p.strip(" ，,") for p in _CLAUSE.split(question.strip()) if p and p.strip(" ，,？?")]
    asking = [i for i, p in enumerate(clauses) if _ASKS_ANY.search(fold(p))]
    if len(asking) < 2:
        return [question]
    parts: list[str] = []
    context: list[str] = []
    for i, clause in enumerate(clauses):
        if i not in asking:
            context.append(clause)  # context belongs to the part that follows it
            continue
        part = clause
        if parts and len(part) < 20:
            part = f"{clauses[asking[0]]} {part}"
        parts.append("，".join([*context, part]))
        context = []
    return parts


_ASKS_ANY = re.compile(
    r"多少|什么|哪|谁|几|何|多大|多长|多久|是否|吗|\b(how|what|which|who|when|where|whom)\b"
)
