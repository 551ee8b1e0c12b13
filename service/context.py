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
4. **Statements that point back.** "That means you need higher doses" stands for the whole previous sentence, not
   its subject: the two are checked together.
5. **The page's topic.** A sentence that leans on what the page is about without naming it is prefixed with the
   topic: "Methadone: you'll usually start on 10mg". It leans when it is addressed to the reader ("you", "we"),
   opens with a connective ("However, your dose may be different"), a quantifier ("Some people…") or a bare
   generic noun ("The disorder is more common in women"), or has a third-person pronoun early on ("Even in small
   doses, it can be deadly"). The topic is the part of the page title the page repeats ("Methadone - Brand name:
   Physeptone" → "Methadone"; "A Shared Approach to Preventing Opioid Overdoses" → "Opioid Overdoses"), else the
   subject of the opening sentence of a page with no title, else a section heading the page's sentences name.

A sentence no rule applies to is checked as written. Measured in ``bench/verifiable.py`` on every
context-dependent sentence of the article set, with a blind judge's acceptance of each claim built.
"""

from __future__ import annotations

import re
from collections import Counter
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
SUBORDINATORS = frozenset("if when whenever while although though because since unless after before as once to".split())
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
        "dosage",
        "dose",
        "doses",
        "how to take it",
        "side effects",
        "warnings",
        "urgent advice",
        "highlights",
    }
)
# "It is possible to…", "It takes time…": a dummy subject, nothing to resolve.
EXPLETIVE_NEXT = frozenset(
    """possible important likely unlikely unclear clear best safe unsafe recommended estimated thought believed
    known hard difficult easy rare common normal usual essential vital worth takes take took""".split()
)
# Words a title is made of that name no topic on their own (page_topic).
TITLE_FILLER = frozenset(
    """a an the and or of for to in on with while about how when what why who is are your you do does can need
    know things facts questions""".split()
)
TITLE_WORDS = frozenset(
    """about manage managing dealing halt hurt approach approaches shared preventing prevention treatment treating
    taking take questions answers guide overview brand name highlights drugfacts facts health disorders""".split()
)
FOOTNOTE = re.compile(r"(?:\[[\d,\s–-]+\]|\(\d+\)|\d{1,3})+$")
# A lead-in line ending in a verb, modal or preposition runs on into its list item ("Symptoms include nausea.",
# "People with GAD may feel restless."); any other keeps its colon ("There are 2 main approaches to stopping heroin: detox…").
LEAD_TAKES_ITEM = (
    frozenset("including as like by of to with from for in on about into at than that because and or".split())
    | AUXILIARIES
    | VERBS
)
# "That means you need higher doses": after these, "this"/"that" stands for what the previous sentence said.
PROPOSITIONAL = frozenset("means meant explains depends happens is_why is_because was_why was_because".split())
QUANTIFIERS = frozenset("many some most few others people adults children patients".split())
STOPWORDS = frozenset(
    """even when after before while with without from into about only also then that this these those there
    which what your have been being will would could should might must more most less much many some""".split()
)
# Words frequent on any health page, and adjective endings: neither names what a page is about (_keyword).
KEYWORD_STOP = frozenset(
    """people should health doctor about which their there these those other years treatment information
    because include including usually always could would medicine medicines between before during problems
    symptoms called something someone things others person another products research studies""".split()
)
ADJECTIVE_ENDINGS = ("ic", "al", "ive", "ous", "ful", "ary", "ible", "able")
PERSONAL = frozenset("you we i he she they it".split())
CONTRACTIONS = {"it's": "is", "it’s": "is", "they're": "are", "they’re": "are", "that's": "is", "that’s": "is"}
_WORD = re.compile(r"[\w'’-]+")
_QUESTION_HEAD = re.compile(
    r"^(?:what|how|why|when|who|which|where)\s+(?:is|are|was|were|does|do|can|causes?|happens)\s+(?:an?\s+|the\s+)?",
    re.IGNORECASE,
)
MAX_SUBJECT_WORDS = 8
# Openings that lean on the page's topic without naming it (rule 5); connectives are dropped from the claim.
CONNECTIVES = (
    "however, ",
    "however ",
    "but ",
    "and ",
    "so ",
    "also, ",
    "still, ",
    "in addition, ",
    "for this reason, ",
)
READER = frozenset("you you'll you're you've you'd your yourself we we're we've our us".split())
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
    # a section heading stands in for a missing page topic only when the page's sentences name it
    body = " ".join(s.text for s in segments if s.kind != "heading").lower().replace("’", "'")
    named_headings = {t for s in segments if s.kind == "heading" and (t := heading_topic(s.text)) and _names(body, t)}
    for i, seg in enumerate(segments):
        text = seg.text.strip()
        claim: str | None = None
        anchored: str | None = None
        if seg.kind == "heading" and not text.endswith(":"):
            heading = text
        else:
            lead = _lead_in(segments, i)
            if lead is not None and text.split()[0].lower() not in PERSONAL:
                text = _join_lead(resolved_texts[lead], text)
                claim = text
            antecedent = _antecedent(resolved_texts, segments, i, heading)
            rewritten = _replace_pronoun(text, antecedent) if antecedent else None
            words = text.split(maxsplit=2)
            if rewritten is None and words[0].lower() in ("this", "that") and _propositional(words):
                rewritten = _join_previous(claims, resolved_texts, segments, i, text)
            if rewritten is not None:
                claim = rewritten
            elif claim is None and (topic or heading_topic(heading) in named_headings):
                claim = anchored = _anchor(text, topic or heading_topic(heading))
        claims.append(claim)
        # a topic prefix ("Cold: antibiotics don't work…") is not part of the sentence a later "They" points into
        resolved_texts.append(seg.text.strip() if claim and claim == anchored else claim or seg.text.strip())
    return claims


def _join_previous(
    claims: list[str | None], resolved: list[str], segments: Sequence[Segment], i: int, text: str
) -> str | None:
    """Rule 4: "That means…" is checked together with the sentence it stands for, the previous one (as checked,
    topic prefix included: "Morphine: if you take it for long… That means…")."""
    previous = claims[i - 1] or resolved[i - 1] if i else ""
    if i == 0 or segments[i - 1].kind == "heading" or not previous.endswith((".", "!", ")")):
        return None
    return f"{previous} {text}"


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
    last = lead.split()[-1].lower() if lead.split() else ""
    if last in LEAD_TAKES_ITEM:  # "Symptoms include nausea."
        return f"{lead} {item}."
    return f"{lead}: {item}."  # "There are 2 main approaches to stopping heroin: maintenance therapy…"


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
    heading = re.sub(r"^\d+[.)]\s+", "", heading.strip())  # "2. Key facts"
    if heading.endswith("?") and not _QUESTION_HEAD.match(heading):
        return ""  # "Can Dietary Supplements Help Older Consumers?" asks; it names no subject for "it"
    topic = _QUESTION_HEAD.sub("", heading).rstrip("?:. ")
    topic = re.sub(
        r"^(?:common questions|facts|things to know|what to know|about)\s+(?:about\s+)?", "", topic, flags=re.I
    )
    if not topic or topic.split()[0].lower() in ("and", "or", "but"):  # "Who can and cannot take …"
        return ""
    if topic.lower() in GENERIC_HEADINGS or topic.split()[0].lower().endswith("ing"):
        return ""  # "Getting your prescription", "Dealing with Chronic Pain": an activity, not what "it" names
    return topic if 0 < len(topic.split()) <= MAX_SUBJECT_WORDS else ""


def page_topic(segments: Sequence[Segment]) -> str:
    """The words of the page title that the page itself repeats: what the page is about.

    "Methadone - Brand name: Physeptone" → "Methadone"; "How and when to take methadone" → "methadone"; "Manage
    Common Cold" → "Common Cold". The longest run of the title's words (at most four, not starting or ending with a
    function word) that the body names at least twice wins; a single word must not be one of the words titles are
    made of ("about", "manage", "questions"). A page that opens without a title takes the subject of its first
    sentence instead; failing both, a word the page plainly centres on (``_keyword``).
    """
    first = segments[0] if segments else None
    title = first.text.strip() if first and first.kind == "heading" else ""
    if title.lower().strip(" :") in GENERIC_HEADINGS:
        title = ""  # "Dosage" opens a section, not the page: the next heading is no title either
    if not title:  # no title: the subject of the opening sentence, "Buprenorphine is a strong opioid medicine."
        title = subject_of(next((s.text for s in segments[:3] if s.kind != "heading" and "?" not in s.text), ""))
    words = [w.strip(" “”\"'!?.,:;()®") for w in re.split(r"\s+[-–—|]\s+|[:(|]|\s+", title)]
    words = [w for w in words if w]
    if not words:
        return _keyword(segments)
    body = " " + " ".join(s.text for s in segments if s.kind != "heading").lower() + " "
    best = ""
    for n in range(min(len(words), 4), 0, -1):
        for k in range(len(words) - n + 1):
            span = words[k : k + n]
            if span[0].lower() in TITLE_FILLER or span[-1].lower() in TITLE_FILLER:
                continue
            if n == 1 and (span[0].lower() in TITLE_WORDS or len(span[0]) < 4):
                continue
            phrase = " ".join(span)
            stem = re.escape(re.sub(r"(?<=[a-z])s$", "", phrase.lower()))  # "Overdoses" also counts "overdose"
            if len(re.findall(r"(?<![\w-])" + stem + r"(?:s|es)?(?![\w-])", body)) >= 2:
                best = phrase
                break
        if best:
            break
    return best or _keyword(segments)


def _keyword(segments: Sequence[Segment]) -> str:
    """A page whose title gives no topic ("Key points", "Halt the Hurt!") is about the word its sentences name
    far more often than any other, when a heading names it too: "fentanyl" on CDC's fentanyl page."""
    counts: Counter[str] = Counter(
        w
        for s in segments
        if s.kind != "heading"
        for w in set(re.findall(r"[a-z][a-z-]{5,}", s.text.lower()))
        if w not in KEYWORD_STOP and not w.endswith(ADJECTIVE_ENDINGS)
    )
    top = counts.most_common(2)
    if not top or top[0][1] < 6 or (len(top) > 1 and top[0][1] < 1.5 * top[1][1]):
        return ""
    headings = " ".join(s.text.lower() for s in segments if s.kind == "heading")
    return top[0][0] if top[0][0] in headings else ""


def _anchor(text: str, topic: str) -> str | None:
    """Rule 5: "Topic: sentence" for a sentence that leans on the page's topic without naming it."""
    low = text.lower().replace("’", "'")
    bare = FOOTNOTE.sub("", text)  # "…can be deadly.4" ends its sentence before the footnote
    if _names(low, topic) or len(text.split()) < 5 or not bare.endswith((".", "!")):
        return None  # a fragment or a question is not a claim, whatever it leans on
    for connective in CONNECTIVES:
        if low.startswith(connective):
            text, low = text[len(connective) :].lstrip(), low[len(connective) :].lstrip()
            break
    else:
        connective = ""
    words = [w.strip(",.;:()") for w in low.split()]
    first = words[0] if words else ""
    leans = (
        connective
        or first in READER
        or first in QUANTIFIERS
        or any(low.startswith(g + " ") for g in GENERIC_NOUNS)
        or any(w in READER for w in words)  # "If you need to take it…": addressed to the reader
        or _bare_pronoun(words)  # "Even in small doses, it can be deadly."
    )
    if not leans:
        return None
    if not text[:2].isupper():
        text = text[0].lower() + text[1:]
    return f"{topic[0].upper() + topic[1:]}: {text}"


def _names(low: str, topic: str) -> bool:
    """Whether the sentence names the topic: each of its longer words, singular or plural ("the disorder" does not
    name "Anxiety Disorder")."""
    words = [w.lower().rstrip("s") for w in re.findall(r"[\w-]+", topic) if len(w) >= 4 or len(topic) < 4]
    return all(re.search(r"(?<![\w-])" + re.escape(w), low) for w in words or [topic.lower()])


def _bare_pronoun(words: list[str]) -> bool:
    """A third-person pronoun early in the sentence (within six words, or before any content word), before the
    sentence has had room to name what it stands for: "Even in small doses, it can be deadly." """
    for n, w in enumerate(words):
        if w in ("it", "its", "they", "them", "their", "it's", "they're"):
            following = words[n + 1] if n + 1 < len(words) else ""
            if w in ("it", "it's") and (following in EXPLETIVE_NEXT or following in ("is", "was")):
                continue  # "it is best to…", "it is unlikely…"
            return n < 6 or not any(len(v) > 3 and v not in STOPWORDS for v in words[:n] if v[:1].isalpha())
    return False


def _propositional(words: list[str]) -> bool:
    """ "That means…", "This is why…": the pronoun stands for a whole statement."""
    following = words[1].lower().strip(",") if len(words) > 1 else ""
    after = words[2].lower().split()[0].strip(",") if len(words) > 2 and words[2].split() else ""
    return following in PROPOSITIONAL or f"{following}_{after}" in PROPOSITIONAL


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
    if first in ("this", "that") and _propositional(words):
        return None  # "That means…" stands for the whole previous sentence, not its subject (see resolve_claims)
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
