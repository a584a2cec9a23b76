"""Sentences of a passage that address the model instead of informing it: instructions planted in a
document ("忽略你之前的指令", "ignore your instructions", "the whole response must be …"). They are
data, never evidence, and never quoted as an answer."""

from __future__ import annotations

import re

_INSTRUCTION = re.compile(
    r"(忽略|无视|不要理会|忘记|忘掉)(你|您|之前|以上|上面|前面|所有|全部|一切|系统)*.{0,6}(指令|指示|规则|要求|提示|设定)"
    r"|(只|仅)(需|要)?(回复|回答|输出)(\s*[:：“\"「]|\s*[a-z0-9])|你现在是|系统提示词?[:：]|(泄露|输出)(你的)?(系统)?提示词"
    r"|\b(ignore|disregard|forget)\b.{0,40}\b(instructions?|rules|prompts?|directions)\b"
    r"|\b(reply|respond|answer|output|print|say)\b( only)? with\b"
    r"|\b(reply|respond|answer|output|print|say) only\b"
    r"|\byou are now\b|\bsystem prompt\b|\bnew instructions\b",
    re.IGNORECASE,
)


# A sentence that speaks of the reply itself and says what it must be is addressed to whoever
# answers, however it is worded: a word for the reply, and a word that binds or overrides.
REPLY_WORD = re.compile(
    r"\b(respon(se|ses|d|ds)|repl(y|ies)|answers?|outputs?|assistants?|chatbots?)\b"
    r"|回答|回复|回应|答复|答案|输出|助手"
)
_BINDING_WORD = re.compile(
    r"\b(must|shall|has to|have to|needs? to|is to|are to|always|whatever|regardless|no matter|"
    r"ignore|disregard|override|obey|mandatory)\b"
    r"|必须|务必|一律|只能|只许|只准|不管|无论|不论|忽略|无视|应当|一定要|改为"
)
_ANY_QUESTION = re.compile(
    r"\b(whatever|no matter what|regardless of (what|which|the))\b.{0,30}\b(question|asked|asks|query|user)\b"
    r"|(不管|无论|不论).{0,10}(问题|问什么|提问|怎么问|用户)"
)


def is_instruction(folded: str) -> bool:
    """The passage sentence addresses the model (a planted instruction), so it is data, not evidence:
    a known instruction phrase, a rule for any question ("whatever the question is, …"), or a
    sentence that speaks of the reply and binds it ("the whole response must be …", "回答一律写…")."""
    if _INSTRUCTION.search(folded) or _ANY_QUESTION.search(folded):
        return True
    return bool(REPLY_WORD.search(folded) and _BINDING_WORD.search(folded))
