"""Build the claim that is actually checked when a sentence leans on what came before it.

"This can include intense cravings, restlessness, insomnia…" cannot be checked alone: *this* is opioid
withdrawal, named one sentence earlier. Checked bare, retrieval found off-topic evidence. A small set of rules,
each explainable, rewrites such sentences from their neighbours and the section heading; the untouched sentence
and its offsets stay as they are, and ``claim`` carries the rewrite for retrieval and stance.

The rules, in order:

1. **Lead-in lists.** A list item under a line ending in a colon ("Symptoms include:" / "It comes as:") is
   joined to it: "Symptoms include nausea and vomiting."
2. **Leading pronouns.** "It", "This", "That", "They", "These", "Those" used as a subject ("This can include…"),
   and "Its"/"Their", are replaced by the antecedent: the subject of the previous sentence, or the topic of the
   section heading when the previous sentence gives none.
3. **Demonstrative phrases.** "These symptoms", "This drug": replaced by the antecedent when it names the same
   thing ("Withdrawal symptoms"), otherwise made definite and tied to it ("the symptoms of opioid withdrawal").
4. **The page's topic.** A sentence that names nothing of what the page is about and leans on it (addressed to
   the reader, "You'll usually start on 10mg"; opened by a connective, "However, your dose may be different"; or
   by a bare generic noun, "The disorder is more common in women") is prefixed with the topic: "Methadone: you'll
   usually start on 10mg". The topic is the page title's head ("Methadone - Brand name: Physeptone" → "Methadone"),
   used only when the page repeats it; a page without a title, or whose title it never repeats, gets no topic.

A sentence no rule applies to is checked as written. Measured on the article set's context-dependent
sentences in ``bench/context.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from veracity.service.segment import Segment

PRONOUNS = frozenset({"it", "this", "that", "these", "those", "they"})
POSSESSIVES = frozenset({"its", "their"})
# Words that, right after "This"/"These", show the pronoun is the subject ("This can …", "These are …") and not a
# determiner ("This drug …").
AUXILIARIES = frozenset(
    """is are was were be been being can could may might will would shall should must has have had does do did
    also often usually typically generally sometimes still only just not never always mostly mainly""".split()
)
# Verbs common in health writing; a subject ends before the first of these (or an auxiliary).
VERBS = frozenset(
    """include includes included cause causes caused lead leads led increase increases increased reduce reduces
    reduced raise raises raised lower lowers lowered affect affects affected help helps helped work works worked
    occur occurs occurred happen happens happened start starts started begin begins began last lasts lasted
    make makes made mean means meant contain contains contained come comes came act acts acted bind binds
    block blocks blocked produce produces produced become becomes became remain remains remained appear appears
    appeared seem seems seemed show shows showed suggest suggests suggested find finds found treat treats
    treated prevent prevents prevented control controls controlled depend depends vary varies varied carry
    carries carried develop develops developed need needs needed require requires required relieve relieves
    ease eases eased involve involves involved stop stops stopped use uses used trigger triggers triggered
    keep keeps kept look looks looked feel feels felt get gets got go goes went take takes took give gives gave
    say says said tend tends tended""".split()
)
# A sentence opening with one of these starts with a clause, not its subject ("If you …", "When taken …").
SUBORDINATORS = frozenset("if when whenever while although though because since unless after before as once".split())
# Headings that name a part of a page, not a topic.
GENERIC_HEADINGS = frozenset(
    {
        "overview",
        "introduction",
        "summary",
        "background",
        "key points",
        "key facts",
        "more information",
        "symptoms",
        "causes",
        "treatment",
        "treatments",
        "diagnosis",
        "prevention",
        "outlook",
        "references",
        "resources",
        "related topics",
        "conclusion",
        "the bottom line",
        "faq",
        "frequently asked questions",
    }
)
# "It is possible to…", "It takes time…": a dummy subject, nothing to resolve.
EXPLETIVE_NEXT = frozenset(
    """possible important likely unlikely unclear clear best safe unsafe recommended estimated thought believed
    known hard difficult easy rare common normal usual essential vital worth takes take took""".split()
)
PERSONAL = frozenset("you we i he she they it".split())
CONTRACTIONS = {"it's": "is", "it’s": "is", "they're": "are", "they’re": "are", "that's": "is", "that’s": "is"}
_WORD = re.compile(r"[\w'’-]+")
_QUESTION_HEAD = re.compile(
    r"^(?:what|how|why|when|who|which|where)\s+(?:is|are|was|were|does|do|can|causes?|happens)\s+(?:an?\s+|the\s+)?",
    re.IGNORECASE,
)
MAX_SUBJECT_WORDS = 8
# Openings that lean on the page's topic without naming it (rule 4); connectives are dropped from the claim.
CONNECTIVES = ("however, ", "but ", "and ", "so ", "also, ", "still, ", "in addition, ", "for this reason, ")
READER = frozenset("you you'll you're you've you'd your yourself".split())
GENERIC_NOUNS = frozenset(
    """the disorder|the condition|the disease|the drug|the medicine|the medication|the treatment|the supplement
    |the supplements|the studies|the study|the research|the programs|the programmes|deficiency|treatment
    |problems|symptoms|side effects|dosage""".replace("\n", "").split("|")
)


def resolve_claims(segments: Sequence[Segment]) -> list[str | None]:
    """The claim to check for each segment: a rewritten sentence, or ``None`` where the text stands alone."""
    claims: list[str | None] = []
    resolved_texts: list[str] = []  # each segment as resolved so far, for chains ("It … . It …")
    heading = ""
    topic = page_topic(segments)
    for i, seg in enumerate(segments):
        text = seg.text.strip()
        claim: str | None = None
        if seg.kind == "heading" and not text.endswith(":"):
            heading = text
        else:
            lead = _lead_in(segments, i)
            if lead is not None and text.split()[0].lower() not in PERSONAL:
                text = _join_lead(resolved_texts[lead], text)
                claim = text
            antecedent = _antecedent(resolved_texts, segments, i, heading)
            rewritten = _replace_pronoun(text, antecedent) if antecedent else None
            if rewritten is not None:
                claim = rewritten
            elif claim is None and topic:
                claim = _anchor(text, topic)
        claims.append(claim)
        resolved_texts.append(claim or seg.text.strip())
    return claims


def _lead_in(segments: Sequence[Segment], i: int) -> int | None:
    """Index of the line ending in a colon that a list item continues (list items in between are its siblings)."""
    if segments[i].kind != "list_item":
        return None
    j = i - 1
    while j >= 0 and segments[j].kind == "list_item":
        j -= 1
    if j >= 0 and segments[j].text.rstrip().endswith(":"):
        return j
    return None


def _join_lead(lead: str, item: str) -> str:
    lead = re.sub(r"\s+the following$", "", lead.rstrip().rstrip(":").rstrip(), flags=re.IGNORECASE)
    item = item.strip().rstrip(".;,")
    if item[:1].isupper() and not item[:2].isupper():  # "Nausea" → "nausea", but "HIV" stays
        item = item[0].lower() + item[1:]
    return f"{lead} {item}."


def _antecedent(resolved: list[str], segments: Sequence[Segment], i: int, heading: str) -> str:
    """The subject of the nearest previous sentence (as already resolved), else the heading's topic."""
    for j in range(i - 1, -1, -1):
        if segments[j].kind == "heading":
            break
        subject = subject_of(resolved[j])
        if subject:
            return subject
        break
    return heading_topic(heading)


def subject_of(sentence: str) -> str:
    """The words before the first verb, when they make a short noun phrase that is not itself a pronoun."""
    matches = list(_WORD.finditer(sentence))
    first = matches[0].group().lower().replace("’", "'").split("'")[0] if matches else ""
    if not first or first in PRONOUNS | POSSESSIVES | SUBORDINATORS | PERSONAL | CONTRACTIONS.keys():
        return ""
    for n, m in enumerate(matches):
        low = m.group().lower()
        if low in AUXILIARIES or low in VERBS:
            if not 0 < n <= MAX_SUBJECT_WORDS:
                return ""
            subject = sentence[matches[0].start() : matches[n - 1].end()].strip()
            return "" if any(c in subject for c in ",;:()") else subject
    return ""


def heading_topic(heading: str) -> str:
    """ "What Is Kratom?" → "Kratom"; "Symptoms of opioid withdrawal" stays; long headings give nothing."""
    topic = _QUESTION_HEAD.sub("", heading.strip()).rstrip("?:. ")
    topic = re.sub(
        r"^(?:common questions|facts|things to know|what to know|about)\s+(?:about\s+)?", "", topic, flags=re.I
    )
    if topic.lower() in GENERIC_HEADINGS:
        return ""
    return topic if 0 < len(topic.split()) <= MAX_SUBJECT_WORDS else ""


def page_topic(segments: Sequence[Segment]) -> str:
    """The head of the page title (its first heading), when the rest of the page names it at least twice."""
    title = next((s.text.strip() for s in segments[:3] if s.kind == "heading"), "")
    head = re.split(r"\s+[-–—|]\s+|:\s+|\s*\(", heading_topic(title) or title, maxsplit=1)[0].strip(" “”\"'!?.")
    words = head.split()
    if not 0 < len(words) <= 4 or head.lower() in GENERIC_HEADINGS:
        return ""
    body = " ".join(s.text for s in segments if s.kind != "heading").lower()
    # the longest run of the title's words the page repeats: "Manage Common Cold" → "Common Cold"
    # one word of a longer title is too little ("Cold" of "Manage Common Cold")
    for n in range(len(words), 0 if len(words) == 1 else 1, -1):
        for k in range(len(words) - n + 1):
            phrase = " ".join(words[k : k + n])
            if len(phrase) >= 4 and body.count(phrase.lower()) >= 2:
                return phrase
    return ""


def _anchor(text: str, topic: str) -> str | None:
    """Rule 4: "Topic: sentence" for a sentence that leans on the page's topic without naming it."""
    low = text.lower().replace("’", "'")
    if topic.lower() in low or len(text.split()) < 5 or not text.endswith((".", "!")):
        return None  # a fragment or a question is not a claim, whatever it leans on
    for connective in CONNECTIVES:
        if low.startswith(connective):
            text, low = text[len(connective) :].lstrip(), low[len(connective) :].lstrip()
            break
    else:
        connective = ""
    first = low.split(maxsplit=1)[0].strip(",") if low.split() else ""
    if not (connective or first in READER or any(low.startswith(g + " ") for g in GENERIC_NOUNS)):
        return None
    if not text[:2].isupper():
        text = text[0].lower() + text[1:]
    return f"{topic[0].upper() + topic[1:]}: {text}"


def _replace_pronoun(text: str, antecedent: str) -> str | None:
    words = text.split(maxsplit=2)
    if not words:
        return None
    first = words[0].lower().strip(",")
    rest = text[len(words[0]) :].lstrip()
    subject = antecedent[0].upper() + antecedent[1:]
    following = words[1].lower().strip(",:;.") if len(words) > 1 else ""
    if first in ("it", "it's", "it’s") and (
        following in EXPLETIVE_NEXT
        or (following in AUXILIARIES and len(words) > 2 and words[2].lower().strip(",") in EXPLETIVE_NEXT)
    ):
        return None
    if first in CONTRACTIONS:
        return f"{subject} {CONTRACTIONS[first]} {rest}"
    if first in POSSESSIVES:
        return f"{subject}{'’' if subject.endswith('s') else '’s'} {rest}"
    if first not in PRONOUNS:
        return None
    if first in ("it", "they") or following in AUXILIARIES or following in VERBS or following.endswith("’s"):
        return f"{subject} {rest}"
    if first in ("this", "that", "these", "those") and len(words) > 1:
        # a demonstrative phrase: "These persistent pains can …": the phrase runs to the first verb
        tokens = rest.split()
        n = next((k for k, t in enumerate(tokens) if t.lower().strip(",") in AUXILIARIES | VERBS), 0)
        if not 0 < n <= 4:
            return None
        phrase, after = " ".join(tokens[:n]), " ".join(tokens[n:])
        head = tokens[n - 1].lower().strip(",").rstrip("s")
        if head and head in antecedent.lower():
            return f"{subject} {after}"
        tied = antecedent if antecedent[:2].isupper() else antecedent[0].lower() + antecedent[1:]
        return f"The {phrase} of {tied} {after}"
    return None
