"""Rules that spot text addressed to an AI assistant instead of the reader (prompt injection).

Each rule finds *spans*: the sentence (or, for a fake chat-template block, the whole block) that carries the
instruction. A span whose rule names its audience ("Note to the AI assistant:", "SYSTEM NOTICE", an
``<|im_start|>`` block) takes the rest of its paragraph with it: the instruction usually follows the address.

    instruction   imperatives aimed at the model (ignore previous instructions, you must reply ..., reveal the
                  system prompt, recommend X instead) in English, Spanish, French, German, Italian, Portuguese
    address       a note addressed to the AI / assistant / language model reading the text
    template      fake chat-template or role tokens: <|im_start|>, [INST], <<SYS>>, "System:" at a line start
    notice        a fake system / admin / security notice or override
    encoded       a base64 or rot13 payload next to a decode instruction, or one that decodes to an instruction
    exfiltration  a markdown image or link whose URL carries data (a query string or a long path)

The rules were written from public attack catalogues (garak's promptinject and encoding probes, the PINT
benchmark's categories, AgentDojo's injection tasks) and checked on the held-out split of bench/guard_injection.py.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass

from genloom.answer.text import sentences

_I = re.IGNORECASE
_AI = r"(?:(?:ai|virtual|digital) )?(?:ai|a\.i\.|assistant|chatbot|chat ?bot|language model|llm|gpt|copilot|bot|agent|model)s?"
_SAY = r"(?:say|reply|respond|answer|output|print|write|tell|recommend|suggest|state|claim|mention|include|append|add|render|insert)"

_INSTRUCTION = [
    # ignore / disregard the previous instructions
    r"\b(?:ignore|disregard|forget|override|bypass|skip|discard|drop)\b[^.!?\n]{0,40}\b(?:previous|prior|above|earlier|"
    r"all|any|your|preceding|original|system|safety)\b[^.!?\n]{0,30}\b(?:instructions?|prompts?|rules|directions|"
    r"guidelines|context|messages?|constraints|polic(?:y|ies))\b",
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,20}\b(?:rules|instructions|guidelines|directions)\b[^.!?\n]{0,30}"
    r"\b(?:given|above|before|earlier|so far|you were|you have)\b",
    rf"\b(?:from now on|henceforth|going forward)\b[^.!?\n]{{0,20}}\b(?:{_SAY}|answer|reply)\b[^.!?\n]{{0,20}}"
    rf"\b(?:the user|users|everyone|every user|customers)\b",
    r"\b(?:decode|decipher|translate|unscramble)\b[^.!?\n]{0,40}\b(?:and|then)\s+(?:follow|obey|do what it says|execute|"
    r"act on|carry out|run)\b",
    r"\b(?:you are|you're)\s+(?:now|no longer|actually)\b",
    r"\b(?:new|updated|real|revised|secret|hidden|actual) (?:instructions?|system prompt|rules|directives?|task|orders)\s*(?::|are|follow)",
    r"\b(?:reveal|print|show|repeat|output|leak|disclose|display|dump)\b[^.!?\n]{0,30}\b(?:your|the)\b[^.!?\n]{0,15}"
    r"\b(?:system prompt|initial prompt|instructions|hidden prompt|prompt|api key|password|secret)s?\b",
    rf"\b{_AI}\b[^.!?\n]{{0,50}}\b(?:must|should|shall|will|need to|has to|is required to|are required to)\s+"
    rf"(?:always |now |only |instead |also |immediately )?{_SAY}\b[^.!?\n]{{0,40}}\b(?:instead|only with|recalled|"
    rf"that|verbatim|exactly)\b",
    rf"\b(?:you|the reader)\s+(?:must|should|shall|are required to|need to|have to)\s+(?:always |now |only |instead |also |immediately )?"
    rf"(?:{_SAY}|ignore|disregard|forget)\b[^.!?\n]{{0,60}}\b(?:user|answer|response|reply|summary|instead|verbatim|exactly|that|link|image)\b",
    rf"\b(?:when|if|whenever)\b[^.!?\n]{{0,25}}\b(?:asked|answering|responding|summari[sz]ing|replying|you answer|you respond|"
    rf"you reply|you summari[sz]e)\b[^.!?\n]{{0,60}}\b(?:{_SAY}|instead)\b",
    rf"\binstead\b[^.!?\n]{{0,10}}\b(?:{_SAY})\b[^.!?\n]{{0,40}}\b(?:user|that|them|customers?)\b",
    rf"\b(?:{_SAY}|respond)\b[^.!?\n]{{0,25}}\b(?:only|exactly|verbatim)\b[^.!?\n]{{0,40}}\b(?:with|the word|the phrase|the text|the following)\b",
    r"\bdo not (?:tell|reveal|mention|inform|let)\b[^.!?\n]{0,40}\b(?:user|anyone|reader|human)\b",
    r"\b(?:enable|activate|enter|switch to|you are in|now in|into)\s+(?:developer|god|dan|jailbreak|unrestricted|debug) mode\b",
    r"\bpretend (?:to be|you are|that you)\b[^.!?\n]{0,60}\b(?:no|without|unrestricted|unfiltered|evil)\b",
    r"\b(?:without|ignoring|no) (?:any )?(?:ethical|safety|content) (?:guidelines|restrictions|filters|constraints)\b",
    # other languages: ignore the instructions / you must answer / new instructions
    r"\bignora\b[^.!?\n]{0,30}\b(?:instrucciones|indicaciones|reglas|istruzioni|regole)\b",
    r"\b(?:olvida|omite)\b[^.!?\n]{0,30}\b(?:instrucciones|reglas)\b",
    r"\b(?:ignorez|oubliez|ignore)\b[^.!?\n]{0,30}\b(?:les |toutes les )?(?:instructions|consignes|règles)\b[^.!?\n]{0,20}\b(?:précédentes|antérieures|ci-dessus)\b",
    r"\b(?:ignoriere|ignorieren sie|vergiss|vergessen sie)\b[^.!?\n]{0,30}\b(?:anweisungen|regeln|vorgaben|instruktionen)\b",
    r"\b(?:ignore|esqueça|desconsidere)\b[^.!?\n]{0,30}\b(?:instruções|regras)\b",
    r"\b(?:asistente|asistentes|modelo de lenguaje|inteligencia artificial)\b[^.!?\n]{0,50}\b(?:debe|deberá|tiene que)\b[^.!?\n]{0,20}\b(?:responder|decir|recomendar|escribir)\b",
    r"\b(?:assistant|modèle de langage|intelligence artificielle)\b[^.!?\n]{0,50}\b(?:doit|devra)\b[^.!?\n]{0,20}\b(?:répondre|dire|recommander|écrire)\b",
    r"\b(?:assistent|sprachmodell|ki)\b[^.!?\n]{0,50}\b(?:muss|soll|sollte)\b[^.!?\n]{0,30}\b(?:antworten|sagen|empfehlen|schreiben)\b",
    r"\b(?:nuevas instrucciones|nouvelles instructions|neue anweisungen|nuove istruzioni|novas instruções)\b",
]
_ADDRESS = [
    rf"\b(?:note|message|attention|instructions?|memo|reminder|notice|hint)\s+(?:to|for)\s+(?:the |any |all )?(?:{_AI}|ai systems?)\s*[:,—-]",
    rf"\b(?:dear|hey|hello|attention)\s*,?\s+(?:the )?{_AI}\b",
    rf"\b(?:if|when) you are an? (?:ai|{_AI}|large language model)\b",
    rf"\b(?:to|for) (?:any |the |all )?{_AI} (?:reading|processing|summari[sz]ing|parsing|indexing|answering)\b",
    rf"\b(?:{_AI}|ai systems?) (?:reading|processing|summari[sz]ing|parsing|indexing) this\b",
    r"\b(?:nota|mensaje|aviso) para (?:el |la |los )?(?:asistente|ia|modelo)\b",
    r"\b(?:note|message) (?:à|pour) (?:l'|l’)?(?:assistant|ia|intelligence artificielle)\b",
    r"\b(?:hinweis|nachricht|notiz) (?:an|für) (?:den |die )?(?:assistenten|ki|sprachmodell)\b",
]
_NOTICE = [
    r"\b(?:system|admin|administrator|security|important|developer|operator|official|compliance|urgent)\s+"
    r"(?:notice|alert|override|update|message|directive|instruction|announcement|warning)\s*[:!\-—]",
    r"\bend of (?:document|context|user input|data)\b[^.!?\n]{0,30}\b(?:new|system|begin)\b",
]
_TEMPLATE = re.compile(
    r"<\|im_start\|>.*?(?:<\|im_end\|>|\n\s*\n|\Z)|\[INST\].*?(?:\[/INST\]|\n\s*\n|\Z)|<<SYS>>.*?(?:<</SYS>>|\n\s*\n|\Z)"
    r"|<\|(?:system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\|>.*?(?:\n\s*\n|\Z)"
    r"|<\s*/?\s*(?:system|instructions?|im_start|im_end)\s*>.*?(?:\n\s*\n|\Z)"
    r"|(?:^|\n)[ \t]*(?:#{1,3}[ \t]*)?(?:system|assistant|developer|instruction|sys)[ \t]*(?:prompt|message)?[ \t]*:"
    r"[^\n]*(?:\n(?!\s*\n)[^\n]*)*",
    re.IGNORECASE | re.DOTALL,
)
_EXFIL = re.compile(
    r"!\[[^\]\n]{0,200}\]\(\s*<?https?://[^)\s>]*(?:\?[^)\s>]*=|\{|%7B)[^)\s>]*>?\s*(?:\"[^\"]*\")?\)"
    r"|\[[^\]\n]{0,200}\]\(\s*<?https?://[^)\s>]*\?[^)\s>]*(?:=\s*\{|=%7B|\{)[^)\s>]*\)",
    re.IGNORECASE,
)
_TITLE = re.compile(r"\]\(\s*<?[^)\s>]+>?\s+\"([^\"]{8,})\"\s*\)")  # a markdown link's title
_ROLE = re.compile(r"^\s*(?:system|assistant|developer|instruction)s?\s*:", re.I)
_B64 = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_DECODE = re.compile(r"\b(?:base ?64|rot ?13|rot-13|decode|decoded|encoded|cipher|caesar|decipher)\b", _I)
_ROT13_HINT = re.compile(r"\brot[ -]?13\b", _I)


def _compile(ps: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in ps), _I)


_INSTRUCTION_RE, _ADDRESS_RE = _compile(_INSTRUCTION), _compile(_ADDRESS)
_NOTICE_RE = re.compile(
    "|".join(f"(?:{p})" for p in _NOTICE) + r"|(?-i:\b(?:SYSTEM|ADMIN|OVERRIDE|IMPORTANT|SECURITY) "
    r"(?:NOTICE|OVERRIDE|MESSAGE|ALERT|INSTRUCTION|UPDATE)S?\b)",
    _I,
)


@dataclass(frozen=True, slots=True)
class Hit:
    start: int
    end: int
    category: str  # instruction | address | template | notice | encoded | exfiltration
    reason: str


def sentence_category(text: str) -> tuple[str, str] | None:
    """(category, reason) when one sentence reads as an instruction to an AI, else None."""
    if _ADDRESS_RE.search(text):
        return "address", "addressed to an AI assistant"
    if _NOTICE_RE.search(text):
        return "notice", "a fake system/admin notice"
    if _INSTRUCTION_RE.search(text):
        return "instruction", "an instruction to the assistant"
    return None


def _decoded_payloads(text: str) -> list[tuple[int, int, str]]:
    """(start, end, decoded text) of base64 runs that decode to readable text."""
    out = []
    for m in _B64.finditer(text):
        raw = m.group(0)
        try:
            data = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
            s = data.decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if s and sum(c.isprintable() or c.isspace() for c in s) / len(s) > 0.95 and " " in s:
            out.append((m.start(), m.end(), s))
    return out


def find(text: str) -> list[Hit]:
    """Every injection-like span in ``text`` (sorted, possibly overlapping)."""
    hits: list[Hit] = []
    for m in _TEMPLATE.finditer(text):
        start = m.start() + (len(m.group(0)) - len(m.group(0).lstrip("\n")))
        hits.append(Hit(start, m.end(), "template", "a fake chat-template or role token"))
    for m in _EXFIL.finditer(text):
        hits.append(
            Hit(m.start(), m.end(), "exfiltration", "a markdown image/link that carries data in its URL")
        )
    for m in _TITLE.finditer(text):
        if _ROLE.match(m.group(1)) or sentence_category(m.group(1)) is not None:
            hits.append(Hit(m.start(1), m.end(1), "instruction", "an instruction in a markdown link title"))
    spans = sentences(text)
    for i, s in enumerate(spans):
        found = sentence_category(s.text)
        if found is None:
            found = _encoded(s.text)
        if found is None:
            continue
        end = s.end
        if found[0] in ("address", "notice", "encoded"):  # the instruction follows: take the paragraph's rest
            for t in spans[i + 1 :]:
                if "\n\n" in text[end : t.start] or t.start - end > 4:
                    break
                end = t.end
        hits.append(Hit(s.start, end, *found))
    return sorted(hits, key=lambda h: (h.start, h.end))


def _encoded(text: str) -> tuple[str, str] | None:
    """An encoded payload: base64 that decodes to an instruction, or one beside a decode instruction."""
    for _, _, decoded in _decoded_payloads(text):
        if sentence_category(decoded) is not None or _DECODE.search(text):
            return "encoded", "an encoded (base64) payload with an instruction"
    if _ROT13_HINT.search(text) and sentence_category(codecs.decode(text, "rot13")) is not None:
        return "encoded", "a rot13 payload with an instruction"
    return None


__all__ = ["Hit", "find", "sentence_category"]
