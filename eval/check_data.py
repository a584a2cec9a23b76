"""Validate the evaluation data sets eval/qa.jsonl and eval/dev.jsonl.

Standalone: Python standard library plus the ``opencc`` module (package
``opencc-python-reimplemented``).  Run with::

    /work/venv/bin/python eval/check_data.py [--corpus DIR]

Checks
  * every line is a JSON object with the keys id, question, lang, answerable,
    facts, sources, quotes and the right types; every regex compiles;
  * answerable items: every quote (8-80 characters, no markdown link/image
    syntax, no HTML) is a substring of one line of one of the named source
    files; every source is backed by a quote; every fact group has a regex
    that matches at least one quote after normalisation (NFKC, pinyin
    annotations removed, OpenCC t2s, lowercase); regexes are written in
    simplified Chinese and lowercase; two-fact items have one quote per fact
    and quotes from two different places;
  * unanswerable items have empty facts, sources and quotes;
  * ids are unique (across both files), no question is repeated, no dev item
    duplicates a qa item's facts;
  * the counts the data set promises (see REQUIREMENTS below).

Prints a summary; exits 1 when a problem was found.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

try:
    import opencc  # opencc-python-reimplemented
except ImportError:  # pragma: no cover - reported as a problem below
    opencc = None

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parent / "rag" / "corpus"
KEYS = ("id", "question", "lang", "answerable", "facts", "sources", "quotes")

# --- normalisation (must mirror what the evaluator applies to answers) -----
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
PINYIN_RE = re.compile(rf"(?<=[{_CJK}])\([a-zü{_TONED}]*[{_TONED}][a-zü{_TONED}]*\)")
_converter = opencc.OpenCC("t2s") if opencc is not None else None


def normalize(text: str) -> str:
    """NFKC -> drop pinyin annotations -> traditional to simplified -> lower."""
    text = unicodedata.normalize("NFKC", text)
    text = PINYIN_RE.sub("", text)
    if _converter is not None:
        text = _converter.convert(text)
    return text.lower()


# --- requirements -----------------------------------------------------------
REQUIREMENTS = {
    "qa.jsonl": {
        "min_total": 44,
        "min_single": 28,  # answerable, exactly one fact group
        "min_single_per_file": 3,  # single-fact questions per corpus file
        "min_answerable_en": 12,
        "min_multi": 6,  # answerable, 2+ fact groups
        "min_unanswerable": 12,  # >=10 on-topic + 2-3 off-topic
    },
    "dev.jsonl": {
        "total": 46,
        "answerable": 33,
        "answerable_en": 15,
        "unanswerable": 13,
    },
}
MANDATORY_ZH_QUESTION = "软银和英伟达在日本建设的AI工厂有多少算力？"
# (source file prefix, probe strings a fact group must all match, label)
MANDATORY_FACTS = [
    ("002_", ["25艾", "25 exaflops"], "25 exaflops AI factory (002)"),
    ("003_", ["1吉瓦", "1000兆瓦", "1 gw"], "1 GW AI factory power (003)"),
]

TEXT_SUFFIXES = {".txt", ".md", ".html", ".htm"}
MARKUP_RE = re.compile(r"!\[|\]\(|<[a-zA-Z/][^>]*>|\*\*|https?://")
LATIN_UPPER_RE = re.compile(r"(?<!\\)[A-Z]")
# a JSON \uXXXX escape (odd number of backslashes before the u)
ESCAPED_UNICODE_RE = re.compile(r"(?<!\\)(?:\\\\)*\\u[0-9a-fA-F]{4}")


class Checker:
    def __init__(self, corpus: Path):
        self.corpus = corpus
        self.problems: list[str] = []
        self.lines: dict[str, list[str]] = {}
        for path in sorted(corpus.iterdir()):
            if path.is_file() and path.suffix in TEXT_SUFFIXES:
                self.lines[path.name] = path.read_text(encoding="utf-8").splitlines()

    def problem(self, where: str, msg: str) -> None:
        self.problems.append(f"{where}: {msg}")

    # -- loading ---------------------------------------------------------
    def load(self, path: Path) -> list[dict]:
        items = []
        if not path.exists():
            self.problem(path.name, "file missing")
            return items
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.problem(path.name, f"not UTF-8: {exc}")
            return items
        for no, line in enumerate(text.splitlines(), 1):
            where = f"{path.name}:{no}"
            if not line.strip():
                self.problem(where, "blank line")
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                self.problem(where, f"bad JSON: {exc}")
                continue
            if not isinstance(obj, dict):
                self.problem(where, "not a JSON object")
                continue
            if ESCAPED_UNICODE_RE.search(line):
                self.problem(where, "escaped non-ASCII (write with ensure_ascii=False)")
            obj["_where"] = f"{where} ({obj.get('id')})"
            items.append(obj)
        return items

    # -- per item ----------------------------------------------------------
    def check_types(self, it: dict) -> bool:
        w = it["_where"]
        ok = True
        missing = [k for k in KEYS if k not in it]
        extra = [k for k in it if k not in KEYS and k != "_where"]
        if missing:
            self.problem(w, f"missing keys {missing}")
            return False
        if extra:
            self.problem(w, f"unexpected keys {extra}")
        if not isinstance(it["id"], str) or not it["id"].strip():
            self.problem(w, "id must be a non-empty string")
            ok = False
        if not isinstance(it["question"], str) or not it["question"].strip():
            self.problem(w, "question must be a non-empty string")
            ok = False
        if it["lang"] not in ("zh", "en"):
            self.problem(w, "lang must be 'zh' or 'en'")
            ok = False
        if not isinstance(it["answerable"], bool):
            self.problem(w, "answerable must be a bool")
            ok = False
        facts = it["facts"]
        if not (
            isinstance(facts, list)
            and all(isinstance(g, list) and all(isinstance(r, str) for r in g) for g in facts)
        ):
            self.problem(w, "facts must be a list of lists of strings")
            ok = False
        for key in ("sources", "quotes"):
            v = it[key]
            if not (isinstance(v, list) and all(isinstance(s, str) for s in v)):
                self.problem(w, f"{key} must be a list of strings")
                ok = False
        if ok and isinstance(it["question"], str):
            q = it["question"]
            has_cjk = re.search(f"[{_CJK}]", q) is not None
            if it["lang"] == "zh" and not has_cjk:
                self.problem(w, "lang zh but question has no Chinese")
            if it["lang"] == "en" and has_cjk and not re.search("[A-Za-z]{3}", q):
                self.problem(w, "lang en but question looks Chinese")
        return ok

    def compile_facts(self, it: dict) -> list[list[re.Pattern]] | None:
        w = it["_where"]
        compiled = []
        for gi, group in enumerate(it["facts"]):
            if not group:
                self.problem(w, f"fact group {gi} is empty")
                return None
            cg = []
            for rx in group:
                try:
                    pat = re.compile(rx)
                except re.error as exc:
                    self.problem(w, f"regex {rx!r} does not compile: {exc}")
                    return None
                if pat.search("") is not None:
                    self.problem(w, f"regex {rx!r} matches the empty string")
                if re.fullmatch(r"[\d\s.,]+", rx):
                    self.problem(w, f"regex {rx!r} is a bare number (too loose)")
                if LATIN_UPPER_RE.search(re.sub(r"\\[a-zA-Z]", "", rx)):
                    self.problem(w, f"regex {rx!r} has upper-case letters (text is lowercased)")
                if _converter is not None and _converter.convert(rx) != rx:
                    self.problem(w, f"regex {rx!r} is not in simplified Chinese")
                if unicodedata.normalize("NFKC", rx) != rx:
                    self.problem(w, f"regex {rx!r} changes under NFKC (text is NFKC-normalised)")
                cg.append(pat)
            compiled.append(cg)
        return compiled

    def locate(self, quote: str, sources: list[str]) -> tuple[str, int] | None:
        for src in sources:
            for no, line in enumerate(self.lines.get(src, []), 1):
                if quote in line:
                    return (src, no)
        return None

    def check_answerable(self, it: dict) -> None:
        w = it["_where"]
        facts, sources, quotes = it["facts"], it["sources"], it["quotes"]
        if not facts:
            self.problem(w, "answerable item without facts")
        if not sources:
            self.problem(w, "answerable item without sources")
        if not quotes:
            self.problem(w, "answerable item without quotes")
        for src in sources:
            if src != Path(src).name:
                self.problem(w, f"source {src!r} must be a basename")
            if src not in self.lines:
                self.problem(w, f"source {src!r} not in {self.corpus}")
        if len(set(sources)) != len(sources):
            self.problem(w, "duplicate sources")
        locs: list[tuple[str, int] | None] = []
        for q in quotes:
            if not 8 <= len(q) <= 80:
                self.problem(w, f"quote length {len(q)} not in 8..80: {q!r}")
            if MARKUP_RE.search(q):
                self.problem(w, f"quote contains markdown/HTML/URL: {q!r}")
            if q != q.strip():
                self.problem(w, f"quote has leading/trailing whitespace: {q!r}")
            loc = self.locate(q, sources)
            if loc is None:
                self.problem(w, f"quote not found in one line of {sources}: {q!r}")
            locs.append(loc)
        used = {loc[0] for loc in locs if loc}
        for src in sources:
            if src in self.lines and src not in used:
                self.problem(w, f"source {src} has no supporting quote")
        compiled = self.compile_facts(it)
        if compiled is None:
            return
        nquotes = [normalize(q) for q in quotes]
        support: list[set[int]] = []
        for gi, group in enumerate(compiled):
            hit = {qi for qi, nq in enumerate(nquotes) if any(p.search(nq) for p in group)}
            if not hit:
                self.problem(w, f"fact group {gi} {it['facts'][gi]} matches no quote")
            support.append(hit)
        if len(facts) >= 2:
            if len(quotes) < len(facts):
                self.problem(w, f"{len(facts)} facts but only {len(quotes)} quotes")
            # two facts must be backed by quotes from two different places
            places = False
            for a in range(len(support)):
                for b in range(a + 1, len(support)):
                    for qa in support[a]:
                        for qb in support[b]:
                            if locs[qa] and locs[qb] and locs[qa] != locs[qb]:
                                places = True
            if not places:
                self.problem(w, "multi-fact item: facts not backed by two different places")

    def check_unanswerable(self, it: dict) -> None:
        w = it["_where"]
        for key in ("facts", "sources", "quotes"):
            if it[key]:
                self.problem(w, f"unanswerable item must have empty {key}")

    # -- per file --------------------------------------------------------------
    def check_file(self, name: str, items: list[dict]) -> dict:
        stats = Counter()
        per_file_single = Counter()
        for it in items:
            if not self.check_types(it):
                continue
            if it["answerable"]:
                self.check_answerable(it)
                stats["answerable"] += 1
                stats[f"answerable_{it['lang']}"] += 1
                if len(it["facts"]) == 1:
                    stats["single"] += 1
                    for s in it["sources"]:
                        per_file_single[s] += 1
                elif len(it["facts"]) >= 2:
                    stats["multi"] += 1
                for s in it["sources"]:
                    stats[f"src:{s}"] += 1
            else:
                self.check_unanswerable(it)
                stats["unanswerable"] += 1
                stats[f"unanswerable_{it['lang']}"] += 1
            stats["total"] += 1
            stats[f"lang_{it['lang']}"] += 1
        req = REQUIREMENTS.get(name, {})
        if name == "qa.jsonl":
            if stats["total"] < req["min_total"]:
                self.problem(name, f"{stats['total']} questions < {req['min_total']}")
            if stats["single"] < req["min_single"]:
                self.problem(name, f"{stats['single']} single-fact < {req['min_single']}")
            for src in self.lines:
                if per_file_single[src] < req["min_single_per_file"]:
                    self.problem(
                        name,
                        f"{src}: {per_file_single[src]} single-fact questions < {req['min_single_per_file']}",
                    )
            if stats["answerable_en"] < req["min_answerable_en"]:
                self.problem(
                    name, f"{stats['answerable_en']} English answerable < {req['min_answerable_en']}"
                )
            if stats["multi"] < req["min_multi"]:
                self.problem(name, f"{stats['multi']} multi-fact < {req['min_multi']}")
            if stats["unanswerable"] < req["min_unanswerable"]:
                self.problem(name, f"{stats['unanswerable']} unanswerable < {req['min_unanswerable']}")
            if self.corpus.resolve() == DEFAULT_CORPUS.resolve():
                self.check_mandatory(items)  # the bundled articles' headline facts, not a corpus's
        elif name == "dev.jsonl":
            for key in ("total", "answerable", "answerable_en", "unanswerable"):
                if stats[key] < req[key]:
                    self.problem(name, f"{key} = {stats[key]}, expected at least {req[key]}")
        stats["per_file_single"] = dict(per_file_single)
        return stats

    def check_mandatory(self, items: list[dict]) -> None:
        if not any(it.get("question") == MANDATORY_ZH_QUESTION for it in items):
            self.problem("qa.jsonl", f"missing the question {MANDATORY_ZH_QUESTION!r}")
        for prefix, probes, label in MANDATORY_FACTS:
            langs = set()
            for it in items:
                if not it.get("answerable") or not isinstance(it.get("facts"), list):
                    continue
                if not any(str(s).startswith(prefix) for s in it.get("sources", [])):
                    continue
                for group in it["facts"]:
                    try:
                        pats = [re.compile(r) for r in group]
                    except (re.error, TypeError):
                        continue
                    if all(any(p.search(normalize(pr)) for p in pats) for pr in probes):
                        langs.add(it.get("lang"))
            for lang in ("zh", "en"):
                if lang not in langs:
                    self.problem("qa.jsonl", f"no {lang} question for {label}")

    def check_cross(self, files: dict[str, list[dict]]) -> None:
        ids = Counter()
        questions = Counter()
        for items in files.values():
            for it in items:
                ids[it.get("id")] += 1
                questions[normalize(str(it.get("question", ""))).strip()] += 1
        for i, n in ids.items():
            if n > 1:
                self.problem("ids", f"id {i!r} used {n} times")
        for q, n in questions.items():
            if n > 1:
                self.problem("questions", f"question repeated {n} times: {q!r}")
        qa_facts = {
            json.dumps(it.get("facts"), ensure_ascii=False)
            for it in files.get("qa.jsonl", [])
            if it.get("answerable")
        }
        for it in (it for name, items in files.items() if name != "qa.jsonl" for it in items):
            if it.get("answerable") and json.dumps(it.get("facts"), ensure_ascii=False) in qa_facts:
                self.problem(it["_where"], "same facts as a qa.jsonl question (paraphrase?)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--dir", type=Path, default=HERE, help="folder holding the jsonl files")
    ap.add_argument(
        "--files", nargs="+", default=["qa.jsonl", "dev.jsonl"], help="the jsonl files in --dir to check"
    )
    args = ap.parse_args(argv)

    if opencc is None:
        print(
            "problem: python module 'opencc' missing "
            "(pip install opencc-python-reimplemented; or run with /work/venv/bin/python)"
        )
        return 2
    chk = Checker(args.corpus)
    if not chk.lines:
        chk.problem("setup", f"no corpus files in {args.corpus}")
    files = {}
    for name in args.files:
        files[name] = chk.load(args.dir / name)
    all_stats = {name: chk.check_file(name, items) for name, items in files.items()}
    chk.check_cross(files)

    for name, st in all_stats.items():
        print(f"== {name}: {st['total']} questions (zh {st['lang_zh']}, en {st['lang_en']})")
        print(
            f"   answerable {st['answerable']} (zh {st['answerable_zh']}, en {st['answerable_en']}): "
            f"single-fact {st['single']}, multi-fact {st['multi']}"
        )
        print(
            f"   unanswerable {st['unanswerable']} (zh {st['unanswerable_zh']}, en {st['unanswerable_en']})"
        )
        for src in sorted(chk.lines):
            print(
                f"   {src}: {st[f'src:{src}']} answerable questions cite it, "
                f"{st['per_file_single'].get(src, 0)} single-fact"
            )
    if chk.problems:
        print(f"\n{len(chk.problems)} problem(s):")
        for p in chk.problems:
            print("  - " + p)
        return 1
    print("\nOK: no problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
