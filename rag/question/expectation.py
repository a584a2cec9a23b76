"""What a question asks for: the kind of answer (a number, a date, a place, …), the unit or noun it
asks about, and the parts of a question that asks two things."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from rag.question.places import place_words, places_in
from rag.text.clean import fold
from rag.text.crosslingual import Gloss
from rag.text.han import HAN
from rag.text.quantities import Quantity, quantities, restated
from rag.text.tokens import STOPWORDS, is_chinese, tagged, words

_NUMBER = re.compile(
    r"\d|[一二三四五六七八九十百千万]+分之[一二两三四五六七八九十百千]+"  # a fraction: 十分之一
    r"|(?:[二两三四五六七八九十]|一[十百千万亿]|[百千]万)[一二两三四五六七八九十百千万亿]*"
    r"(?:个|倍|家|年|人|名|次|座|台|款|种|项|位|亿|万|成(?![为立功本长]))"
)
_DATE = re.compile(r"\d{4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|\b(19|20)\d\d\b|\d{4}-\d{1,2}")
_ASKS_NUMBER = re.compile(
    r"多少|几[个位家年倍次座台款种项名]|第几|多大|多高|多长|多快|多久|比例|百分之"
    r"|how (much|many|large|big|fast|long)"
    r"|what (is|was|were) the (number|amount|size|scale|capacity|power|speed)"
)
_ASKS_DATE = re.compile(
    r"什么时候|何时|哪一?年|哪一?天|几月|几号|哪个月|日期"
    # "when" asks a date only as a question word ("when did…"), not as a conjunction ("when he explained…")
    r"|\bwhen (did|does|do|is|was|were|will|would|has|have|had|can|could)\b"
    r"|what (year|date|day|month)|which (year|date|day)"
)


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
    r"多少钱|售价|价格|价钱|造价|成本|花费|费用|收费|投资了?多少|多少(美元|元|亿美元)|市值|估值"
    r"|how much money|\bcost|\bprice|how much .*(invest|pay|spend|charge)|\bfees?\b"
    r"|market (value|cap)|valuation"
)
# A question for the building or venue something happened in: a sentence must name one (a city or
# "on stage" does not answer "which hotel"). Sentences name one by its kind: 酒店, 会议中心, Hall.
_ASKS_VENUE = re.compile(
    r"\b(which|what)(?: [a-z]+)? (venue|hotel|arena|stadium|convention center|conference center)\b"
    r"|哪[个家座]?(酒店|饭店|宾馆|场馆|会场|体育馆|会议中心|会展中心)"
)
_VENUE = re.compile(
    r"酒店|饭店|宾馆|场馆|会场|体育馆|体育场|礼堂|剧院|会议中心|会展中心|展览中心|大厅|广场"
    r"|\b(hotel|hall|arena|stadium|theat(er|re)|auditorium|dome|resort)\b"
    r"|\b(convention|conference|exhibition|event) cent(er|re)\b"
)
# Who or which one is asked, not an amount: "the cost is the market value of which company?" (but
# "哪家公司的市值是多少" asks the amount)
_ASKS_ENTITY = re.compile(r"\b(which|who|whom|whose)\b|哪家|哪个|哪位|哪些|谁")
_ASKS_AMOUNT = re.compile(r"多少|how (much|many)")
# How far something changes: "how far can it bring down the cost", 成本降低多少
_ASKS_CHANGE = re.compile(
    r"\b(reduce[sd]?|cut|cuts|lower|lowers|bring down|brings down|drop|drops|fall|falls|save|saves)\b"
    r"|降低|减少|下降|降到|降至|节省|缩减|压缩"
)
# A question for a named place: a city, a country, a region. "Where" alone (哪里, 什么地方) may be
# answered by any place ("in my garden", "on stage"), so it asks for no place name.
_ASKS_PLACE = re.compile(
    r"(哪|什么)[个座一]*(城市|国家|地区|州|省|大洲)"
    r"|\b(which|what)(?: [a-z]+)? (city|cities|country|countries|state|region|town|continent)\b"
)
# "where" alone: answered by a place where something is or happens, 在 / 于 a place name or a place
# in words ("在我的花园里")
_ASKS_WHERE = re.compile(
    r"哪里|哪儿|在哪(?!些)|什么地方|何地|何处"
    r"|\bwhere (did|does|do|is|was|were|will|would|has|have|had|can|could|are)\b"
)
_LOCATIVE = re.compile(r"在[^，。,；;！？]{1,10}?(里|中|上|内|旁|附近|边|外|下)")
# who wrote it, not what its author says ("作者认为…", "what does the author liken robots to")
_ASKS_AUTHOR = re.compile(
    r"作者(是|为)?(谁|哪位)|谁是[^，。？?]{0,10}作者|作者(叫|的名字|姓名)|哪位作者|谁写的|谁撰写|署名"
    r"|who (wrote|authored)"
    r"|who (is|was|were) (?:(?:the|its|their|this|that|[a-z]+'s) ){0,2}(authors?|writers?)\b"
    r"|\bauthor'?s name|name of the (author|writer)|\bbyline|(written|authored) by whom"
    r"|by whom (is|was) [^?]{0,40}(written|authored)"
)
# a byline: "作者 | 某某", "文 | 某某", "文章作者: 某某", "By …"
BYLINE = re.compile(r"^\s*(文章?作者|作者|文|撰文|撰稿|author|by|written by)\s*[|｜:：]\s*\S")
_ASKS_NAME = re.compile(
    r"(叫|叫做|叫作|称为|称作|称之为|名为|名叫)(什么|啥)|什么名字|名称是什么|取名|命名为?什么"
    r"|what (does|do|did) [^?]{0,80}\bcall\b|\bcalled what|what is [^?]{0,40}\bcalled"
    r"|what (name|term|word|phrase)\b"
)
_NAMING = re.compile(
    r"称为|称之为|称作|叫做|叫作|名为|名叫|取名|命名|所谓|\b(called|named|dubbed|known as)\b"
    # a term given with its English name: "主权 ai(sovereign ai)"
    rf"|[{HAN}][\w ]{{0,8}}[（(][a-z][a-z -]{{2,40}}[)）]"
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
        re.compile(
            r"how heavy|\bweigh(s|ed)?\b|\b(pounds|lbs|kilograms?|kg|tons|tonnes)\b|多重|重量|磅|公斤|千克|吨"
        ),
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

    kind: str = ""  # "", "number", "date", "duration", "money", "author", "venue", "place" (named), "where"
    unit: str = ""  # for a count: the counter asked for (`多少人` → `人`)
    things: tuple[str, ...] = ()  # what is counted (`多少算力` → 算力; `how many chips` → 芯片, …)
    given: tuple[str, ...] = ()  # numbers the question itself holds: they are context, not the answer
    # the question's amounts with a unit or multiplier ("1吉瓦"): the same amount in other words
    # ("1000兆瓦") is context too
    amounts: tuple[Quantity, ...] = ()
    dimension: str = ""  # a key of _DIMENSIONS: the number must come with one of its units
    name: bool = False  # asks what something is called: a sentence that names a thing answers best
    places: tuple[str, ...] = ()  # places the question itself names: they are context, not the answer
    # the noun the question asks about ("what was the theme of…", 那种思路叫什么), with its translations
    focus: tuple[str, ...] = ()

    def focused(self, folded: str) -> bool:
        """Does the (folded) sentence speak of the noun the question asks about."""
        return any(form in folded for form in self.focus)

    def names(self, folded: str) -> bool:
        """Does the (folded) sentence name something, when a name is asked for."""
        return self.name and bool(_NAMING.search(folded))

    @property
    def general(self) -> Expectation:
        """The same kind, whatever unit or thing is counted (a count of 纸质书 answers 多少本书 too)."""
        return replace(self, unit="", things=(), dimension="")

    def met_by(self, folded: str) -> bool:
        """Does the (folded) sentence hold something of this kind (in the unit or of the thing asked)."""
        if not self.kind:
            return True
        if self.kind == "author":
            return bool(BYLINE.search(folded))
        if self.kind == "venue":
            return bool(_VENUE.search(folded))
        if self.kind == "place":
            return bool(places_in(folded).difference(self.places))
        if self.kind == "where":  # where something is or happens: 在 / 于 a place, or 在…里
            places = places_in(folded).difference(self.places)
            located = (re.search(rf"[在于]\s*{re.escape(p)}", folded) for p in places)
            return bool(_LOCATIVE.search(folded)) or any(located)
        text = _CODE.sub(" ", _LIST_NUMBER.sub("", folded))
        text = restated(text, self.amounts)
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


# where one sentence of a question ends and the next begins: after a question mark or 。, or after a
# full stop that ends a word ("… at $60 billion. What …", not "U.S." or "Mr.")
_SENTENCE_END = re.compile(r"(?<=[？?。])\s*|(?<=[a-z0-9]{2}\.)\s+(?=[A-Z])")


def asking_sentences(question: str) -> list[str]:
    """The sentences of a question that ask, without those that only give context ("Huang puts
    the price at $60 billion. What does the money go toward?"); [] when none asks."""
    return [q for q in _SENTENCE_END.split(question.strip()) if _ASKS_ANY.search(fold(q))]


def expectation(question: str, translate: Callable[[str], list[Gloss]] | None = None) -> Expectation:
    """What the question asks for: a duration, an amount of money, a date, a place, a count, a number,
    or anything; and the noun it asks about.

    When the question is two questions in a row (a short part of a `split_question` with the first
    part in front for context), the last one that asks says what is asked.

    For a count, what is counted is kept too: the counter (`多少人`), the noun after 多少, or the
    dictionary translations of the noun after "how many".
    """
    asking = asking_sentences(question)
    last = asking[-1] if asking else question
    folded = fold(last)
    kind = replace(
        _kind(folded, translate), name=bool(_ASKS_NAME.search(folded)), focus=_focus(folded, translate)
    )
    acronym = re.search(r"(?i:how many)(?: [A-Za-z]+)? ([A-Z]{2,})s?\b", last)
    if kind.kind == "number" and not (kind.unit or kind.things or kind.dimension) and acronym:
        # "how many Blackwell GPUs": an acronym is written the same in every language
        kind = replace(kind, things=(acronym.group(1).lower(),))
    if kind.kind in ("place", "where"):
        # the places the question names ("built in Japan, in which city?"), as written or translated
        named = places_in(fold(question)).union(
            w for _, found in (translate(question) if translate else []) for w in found
        )
        return replace(kind, places=tuple(sorted(named.intersection(place_words()))))
    given = tuple(dict.fromkeys(re.findall(r"\d+(?:\.\d+)?", _CODE.sub(" ", folded))))
    amounts = tuple(q for q in quantities(_CODE.sub(" ", folded)) if q.dim or q.value != q.raw)
    return replace(kind, given=given, amounts=amounts) if kind.kind else kind


# "what was the theme of …", "what is NVIDIA's answer to …", "which AI framework has …"
_FOCUS_EN = (
    re.compile(
        r"\bwhat (?:is|was|are|were) (?:the|its|his|her|their|this|that|[a-z]+'s) (?:[a-z]+ )?([a-z]+)"
        r"(?= (?:of|for|to|that|which|did|does|in|at|on)\b|\?|,)"
    ),
    re.compile(r"\b(?:what|which) (?:[a-z]+ )?([a-z]+) (?:did|does|do|is|was|were|will|has|have|can)\b"),
)
# nouns that say only that something is asked, not what
_VAGUE = frozenset(
    "number amount size name term word phrase kind type way thing things one ones part".split()
)
_FOCUS_ZH = re.compile(r"(?:是|叫|叫做|称为|称作)?(?:什么|啥)")


def _focus(folded: str, translate: Callable[[str], list[Gloss]] | None) -> tuple[str, ...]:
    """The noun a (folded) question asks about, with its translations: a sentence that speaks of it
    is likelier to answer. In Chinese, the common noun right before 是什么 / 叫什么."""
    if is_chinese(folded):
        match = _FOCUS_ZH.search(folded)
        before = tagged(folded[: match.start()]) if match else []
        before = [(w, f) for w, f in before if w.strip() and w not in STOPWORDS and w not in "的种个"]
        word, flag = before[-1] if before else ("", "")
        common_noun = flag.startswith("n") and flag not in ("nr", "nrt", "nt", "nz")
        return (word,) if len(word) > 1 and common_noun else ()
    for pattern in _FOCUS_EN:
        match = pattern.search(folded)
        if match and match.group(1) not in _VAGUE and match.group(1) not in STOPWORDS:
            noun = match.group(1)
            return (noun, *(w for _, found in (translate(noun) if translate else []) for w in found))
    return ()


def _kind(folded: str, translate: Callable[[str], list[Gloss]] | None) -> Expectation:
    """The expectation of a folded question, before the numbers it gives are noted."""
    if _ASKS_AUTHOR.search(folded):
        return Expectation("author")
    if _ASKS_DURATION.search(folded):
        return Expectation("duration")
    entity = _ASKS_ENTITY.search(folded) and not _ASKS_AMOUNT.search(folded)
    if _ASKS_MONEY.search(folded) and not entity:
        # by how much a cost falls is a share or a factor (十分之一, 90%), not an amount of money
        return Expectation("number" if _ASKS_CHANGE.search(folded) else "money")
    if _ASKS_DATE.search(folded):
        return Expectation("date")
    if _ASKS_VENUE.search(folded):
        return Expectation("venue")
    if _ASKS_PLACE.search(folded):
        return Expectation("place")
    if _ASKS_WHERE.search(folded):
        return Expectation("where")
    dimension = _dimension(folded)
    if dimension:
        return Expectation("number", dimension=dimension)
    if _ASKS_NUMBER.search(folded):
        match = re.search(rf"(?:多少|几)([{_COUNTERS}])", folded)
        if match:
            return Expectation("number", match.group(1))
        noun = re.search(rf"多少([{HAN}]{{2,6}})", folded)
        if noun:
            first = words(noun.group(1))
            return Expectation("number", things=(first[0],) if first and len(first[0]) > 1 else ())
        english = re.search(r"how many ([a-z]+(?: [a-z]+)?)", folded)
        if english and translate:
            # the counted noun: the plural one ("how many blackwell gpus", "how many people attended")
            nouns = english.group(1).split()
            counted = next((w for w in nouns if w.endswith("s") or w == "people"), nouns[0])
            things = tuple(w for _, found in translate(counted) for w in found)
            # people are counted with 人 in Chinese ("2000 人"), a word too short to be glossed
            if counted in ("people", "persons"):
                things = (*things, "人", "people", "person")
            return Expectation("number", things=things)
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
