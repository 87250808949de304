"""The moderation guard: scores a text per category and proposes ``block`` when a score reaches its threshold.

No offline multi-label moderation model with bundled weights was found (docs/benchmarks.md "PII and
moderation"; ``alt-profanity-check`` gives one offensive-language score and misses threats), so this is a
rule-based baseline behind the same seam a classifier would use: per category, weighted patterns combine by
noisy-OR (``1 - Π(1 - w)``), and a *mitigating* context (prevention, detection, treatment, news) scales the
score down, so "how do I spot a phishing email" is not "write me a phishing email".

Categories: violence, self_harm, sexual, hate, cyber_abuse (malware, phishing, credential theft, intrusion).
Thresholds: setting ``moderation_thresholds`` ("violence=0.5,self_harm=0.5,..."; a category left out keeps 0.5;
1.1 turns one off).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genloom.errors import UserError
from genloom.guard.base import Finding, Span, Where
from genloom.settings import Settings, get_settings

CATEGORIES: tuple[str, ...] = ("violence", "self_harm", "sexual", "hate", "cyber_abuse")
DEFAULT_THRESHOLD = 0.5

_ASK = (
    r"(?:how (?:do|can|would|should) (?:i|you|we|one)|how to|teach me|show me|help me|tell me how|give me|write|"
    r"create|make|build|code|generate|draft|develop|step[- ]by[- ]step|instructions? (?:for|to|on))"
)
_PERSON = (
    r"(?:him|her|them|my (?:\w+ )?(?:wife|husband|boss|neighbou?r|teacher|ex|mother|father|brother|sister|"
    r"coworker|colleague|classmate|roommate|girlfriend|boyfriend)|someone|people|a person|the president)"
)


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: re.Pattern[str]
    weight: float
    why: str


def _r(pattern: str, weight: float, why: str) -> Rule:
    return Rule(re.compile(pattern, re.IGNORECASE), weight, why)


RULES: dict[str, tuple[Rule, ...]] = {
    "violence": (
        _r(
            r"\bi(?:'m| am)? (?:going to|gonna|will) (?:kill|murder|shoot|stab|hurt|beat) (?:you\b|"
            + _PERSON
            + ")",
            0.9,
            "a threat",
        ),
        _r(
            _ASK + r".{0,40}\b(?:bomb|pipe bomb|explosive|ied|molotov|napalm|nerve agent|ricin)\b",
            0.9,
            "asks how to make a weapon",
        ),
        _r(
            r"\b(?:kill|murder|poison|stab|strangle|shoot|torture)\b.{0,30}\b" + _PERSON + r"\b",
            0.55,
            "violence against a person",
        ),
        _r(_ASK + r".{0,40}\b(?:kill|murder|poison|hurt|torture)\b", 0.6, "asks how to hurt"),
        _r(
            r"\b(?:mass shooting|massacre|behead|school shooting|get away with murder)\b",
            0.45,
            "mass violence",
        ),
        _r(r"\b(?:kill|murder|shoot|stab|bomb|attack|assault|torture)(?:ed|ing|s)?\b", 0.2, "a violent word"),
    ),
    "self_harm": (
        _r(
            r"\b(?:kill myself|end (?:my|it all)|take my (?:own )?life|want to die|better off dead|suicide note)\b",
            0.85,
            "intends self-harm",
        ),
        _r(
            r"\b(?:how many|what dose of|which) .{0,30}(?:pills|tablets|paracetamol|painkillers).{0,30}"
            r"(?:die|overdose|lethal|kill)",
            0.85,
            "asks for a lethal dose",
        ),
        _r(r"\b(?:cut(?:ting)? myself|hurt(?:ing)? myself|self[- ]harm|starve myself)\b", 0.55, "self-harm"),
        _r(_ASK + r".{0,40}\b(?:suicide|hang (?:myself|yourself)|overdose)\b", 0.6, "asks for a method"),
        _r(r"\b(?:suicid\w*|overdos\w*|self-injur\w*)\b", 0.25, "a self-harm word"),
    ),
    "sexual": (
        _r(
            r"\b(?:sex\w*|nude|naked|explicit|erotic|porn\w*)\b.{0,40}\b(?:child|children|minor|underage|kid|"
            r"\d{1,2}[- ]year[- ]old|teen)\b|\b(?:child|minor|underage|kid)\b.{0,40}\b(?:sex\w*|nude|naked|porn\w*)\b",
            1.0,
            "sexual content involving a minor",
        ),
        _r(
            _ASK + r".{0,40}\b(?:explicit|erotic|x-rated|pornographic|smutty|nsfw)\b",
            0.75,
            "asks for explicit content",
        ),
        _r(
            r"(?:"
            + _ASK
            + r"|describe|send me)\b.{0,40}\b(?:porn\w*|hentai|nudes|sext\w*|orgasm\w*|masturbat\w*|"
            r"genitals?)",
            0.7,
            "asks for explicit content",
        ),
        _r(
            r"\b(?:porn\w*|hentai|nudes|sext\w*|blowjob|orgasm\w*|masturbat\w*|genitals?)\b",
            0.45,
            "explicit words",
        ),
        _r(r"\b(?:sex|sexual|erotic|naked|nude)\b", 0.2, "a sexual word"),
    ),
    "hate": (
        _r(
            r"\b(?:(?:all|those|these|the) )?(?:\w+ )?(?:immigrants|refugees|muslims|jews|christians|black people|"
            r"asians|arabs|mexicans|gays|gay people|trans people|women|men)\b.{0,30}\b(?:are (?:vermin|animals|"
            r"subhuman|parasites|a disease|inferior|scum)|should (?:die|be (?:killed|exterminated|gassed|deported|"
            r"wiped out)))",
            0.9,
            "dehumanises a group",
        ),
        _r(
            r"\b(?:inferior race|master race|ethnic cleansing|race war|white power|subhumans?|untermensch)\b",
            0.6,
            "hate slogan",
        ),
        _r(
            _ASK
            + r".{0,40}\b(?:racist|hateful|antisemitic|homophobic|sexist) (?:joke|rant|speech|post|slogan)s?\b",
            0.75,
            "asks for hate speech",
        ),
        _r(r"\b(?:racist|bigot\w*|hate speech|slur)\b", 0.2, "a hate word"),
    ),
    "cyber_abuse": (
        _r(
            _ASK
            + r".{0,60}\b(?:keylogger|ransomware|rootkit|trojan|botnet|spyware|stealer|rat\b|remote access "
            r"trojan|worm|virus|malware|cryptor|crypter|backdoor)",
            0.85,
            "asks for malware",
        ),
        _r(
            _ASK
            + r".{0,60}\b(?:phishing (?:email|e-mail|page|site|kit|message|sms)|fake login page|credential "
            r"harvest\w*)",
            0.85,
            "asks for phishing",
        ),
        _r(
            r"\b(?:steal|grab|harvest|exfiltrate|dump)\w* .{0,30}\b(?:passwords?|credentials|cookies|tokens|credit "
            r"cards?|keystrokes|session)",
            0.6,
            "credential theft",
        ),
        _r(
            r"\b(?:bypass|evade|disable|avoid)\w* .{0,20}\b(?:antivirus|av|edr|defender|2fa|mfa|detection)\b",
            0.55,
            "evades defences",
        ),
        _r(
            r"\b(?:undetectable|fud|zero[- ]click|ddos (?:attack|script|tool|someone)|reverse shell|sql injection "
            r"payload|exploit for cve|hack into)\b",
            0.5,
            "intrusion",
        ),
        _r(
            r"\b(?:keylogger|ransomware|phishing|malware|botnet|rootkit|spyware|exploit)\w*\b",
            0.2,
            "a security word",
        ),
    ),
}

# contexts that make a text about the topic rather than a request for harm: the score is scaled down
MITIGATING: dict[str, tuple[re.Pattern[str], float]] = {
    c: (re.compile(p, re.IGNORECASE), f)
    for c, p, f in (
        (
            "violence",
            r"\b(?:history of|historians?|the war|news|reported|police said|novel|film|movie|self[- ]"
            r"defen[cs]e|prevent\w*|survivors?|process(?:es)?|pid|thread|daemon|container|terminal|linux|"
            r"the lights)\b",
            0.5,
        ),
        (
            "self_harm",
            r"\b(?:prevention|hotline|helpline|crisis line|warning signs|support (?:a|my|someone)|help "
            r"(?:a friend|someone|my)|therap\w*|counsel\w*|recovery|a friend (?:who|is))\b",
            0.35,
        ),
        (
            "sexual",
            r"\b(?:sexual health|sex education|contracepti\w*|consent|sti|std|hiv|clinic|doctor|medical|"
            r"report (?:abuse|it)|protect (?:children|kids)|safeguarding)\b",
            0.35,
        ),
        (
            "hate",
            r"\b(?:history of|combat\w*|counter\w*|fight(?:ing)? against|moderat\w*|report\w*|what (?:is|are)|"
            r"why (?:is|are)|definition|educat\w*)\b",
            0.4,
        ),
        (
            "cyber_abuse",
            r"\b(?:detect\w*|prevent\w*|protect\w*|defend(?:ing)? (?:against|our|my)|defensive|mitigat\w*|recogni[sz]\w*|spot(?:ting)?|"
            r"identify|report\w*|awareness|training|remov\w*|clean(?:ing)? up|incident response|"
            r"patch\w*|secur(?:e|ing) (?:my|our|the)|how does .{0,20} work|what is)\b",
            0.35,
        ),
    )
}


def parse_thresholds(spec: str) -> dict[str, float]:
    """``"violence=0.5,hate=0.7"`` → a threshold per category (the rest at the default); bad input names itself."""
    out = dict.fromkeys(CATEGORIES, DEFAULT_THRESHOLD)
    for item in (x.strip() for x in spec.replace(";", ",").split(",")):
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = name.strip().lower()
        if name not in CATEGORIES or not eq:
            raise UserError(
                f"moderation_thresholds: {item!r} is not CATEGORY=THRESHOLD",
                hint=f"categories: {', '.join(CATEGORIES)}; e.g. violence=0.5",
            )
        try:
            out[name] = float(value)
        except ValueError:
            raise UserError(
                f"moderation_thresholds: {name} threshold {value!r} is not a number",
                hint="a number in [0, 1]; above 1 turns the category off",
            ) from None
        if out[name] < 0:
            raise UserError(f"moderation_thresholds: {name} threshold must be >= 0", hint="e.g. violence=0.5")
    return out


@dataclass(frozen=True, slots=True)
class Scored:
    category: str
    score: float
    spans: tuple[Span, ...]


def score(text: str) -> dict[str, Scored]:
    """Every category's score in [0, 1] and the spans of the rules that fired."""
    out: dict[str, Scored] = {}
    for cat, rules in RULES.items():
        keep, spans = 1.0, []
        for rule in rules:
            m = rule.pattern.search(text)
            if m:
                keep *= 1.0 - rule.weight
                spans.append(Span(m.start(), m.end(), cat, rule.why))
        s = 1.0 - keep
        mitigate, factor = MITIGATING[cat]
        if s and mitigate.search(text):
            s *= factor
        out[cat] = Scored(cat, round(s, 4), tuple(spans))
    return out


class ModerationGuard:
    """A :class:`~genloom.guard.base.Guard` proposing ``block`` for the highest category at or over its threshold."""

    name = "moderation"

    def __init__(self, thresholds: dict[str, float] | None = None) -> None:
        self.thresholds = thresholds or dict.fromkeys(CATEGORIES, DEFAULT_THRESHOLD)

    def check(self, text: str, where: Where) -> Finding | None:
        over = [s for s in score(text).values() if s.score >= self.thresholds[s.category]]
        if not over:
            return None
        top = max(over, key=lambda s: s.score)
        cats = ", ".join(f"{s.category} {s.score:.2f}" for s in sorted(over, key=lambda s: -s.score))
        return Finding(self.name, where, "block", top.category, f"moderation: {cats}", top.spans, top.score)


def make_moderation_guard(settings: Settings | None = None) -> ModerationGuard:
    """The guard registered as ``moderation`` (setting ``moderation_thresholds``; default the process's)."""
    return ModerationGuard(parse_thresholds((settings or get_settings()).moderation_thresholds))
