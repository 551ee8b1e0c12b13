"""Where an evidence item may point, and the grade its study type allows: the rules of GRADING.md as code.

A reader who follows an item's link must land on the source itself (the publisher, an index of the literature, or
the agency that made the statement), not on a copy whose faithfulness nobody checked. The allow-list below is
reviewed like code: adding a host is a change to GRADING.md's "Sources we link to" and to this file together.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from veracity.corpus.schema import GRADE_ORDER, STUDY_TYPES

# Indexes of the literature and their resolvers.
INDEXES = frozenset(
    {
        "pubmed.ncbi.nlm.nih.gov",
        "pmc.ncbi.nlm.nih.gov",
        "www.ncbi.nlm.nih.gov",  # PMC, Bookshelf (StatPearls, LiverTox, agency reports)
        "ncbi.nlm.nih.gov",
        "europepmc.org",
        "doi.org",
        "dx.doi.org",
        "clinicaltrials.gov",
    }
)
# Publishers of journals and reference works (the journal's own site).
PUBLISHERS = frozenset(
    {
        "jamanetwork.com",
        "www.acpjournals.org",
        "acpjournals.org",
        "www.cochranelibrary.com",
        "cochranelibrary.com",
        "www.cochrane.org",
        "www.thelancet.com",
        "www.bmj.com",
        "emj.bmj.com",
        "www.nejm.org",
        "www.nature.com",
        "academic.oup.com",
        "onlinelibrary.wiley.com",
        "link.springer.com",
        "www.sciencedirect.com",
        "www.tandfonline.com",
        "informahealthcare.com",  # Taylor & Francis journals' former host
        "journals.sagepub.com",
        "www.cambridge.org",
        "karger.com",
        "journals.plos.org",
        "www.frontiersin.org",
        "frontiersin.org",
        "www.mdpi.com",
        "bmcmedicine.biomedcentral.com",
        "www.ahajournals.org",
        "psychiatryonline.org",
        "www.psychiatryonline.org",
        "journals.lww.com",
        "www.drugandalcoholdependence.com",
        "www.jpain.org",
        "www.mayoclinicproceedings.org",
        "www.ejinme.com",
        "www.aafp.org",
        "www.gastrores.org",
        "www.eurekaselect.com",
        "www.nationalacademies.org",
        "nap.nationalacademies.org",
        "books.nap.edu",
        "neuroscience.oxfordre.com",  # Oxford Research Encyclopedias (Oxford University Press)
        "oxfordre.com",
        "www.statpearls.com",
        "statpearls.com",
        "www.msdmanuals.com",
        "www.merckmanuals.com",
        "www.uspreventiveservicestaskforce.org",
        "uspreventiveservicestaskforce.org",
    }
)
# Agencies: any host under these suffixes (the agency's own pages, and archives of them kept by a library).
AGENCY_SUFFIXES = (
    ".gov",
    ".who.int",
    ".europa.eu",
    ".nhs.uk",
    ".gov.uk",
    ".canada.ca",
    ".nice.org.uk",
    ".unodc.org",
    ".gov.au",
)
AGENCY_HOSTS = frozenset(
    {
        "who.int",
        "europa.eu",
        "canada.ca",
        "nice.org.uk",
        "unodc.org",
        "webarchive.library.unt.edu",  # the UNT library's archive of retired US federal web pages
        "cybercemetery.unt.edu",
        "www.federalregister.gov",
    }
)

# The most certain grade a study type allows before raising (GRADING.md section 1 and 3). Observational evidence
# may be raised (large effect, dose-response), and a complete count kept by an agency is a record of fact: both
# must say so in ``grade_reason`` ("raised ..." or "Descriptive record: ...").
CEILING = {
    "systematic_review": "high",
    "meta_analysis": "high",
    "rct": "high",
    "regulatory_statement": "high",
    "drug_label": "high",
    "expert_guideline": "high",
    "cohort": "low",
    "case_control": "low",
    "cross_sectional": "low",
    "survey": "low",
    "narrative_review": "low",
    "case_series": "very_low",
    "case_report": "very_low",
    "animal_or_in_vitro": "very_low",
}
RAISED = re.compile(r"\b(?:raised|upgraded)\b|^descriptive record\b", re.IGNORECASE)
RAISABLE = frozenset({"cohort", "case_control", "cross_sectional", "survey", "case_series"})
# Study types reported in journals: these need a PMID or DOI, or a ``source_note`` that says why there is none.
# Every study type but the agency's own records (regulatory statements, labels, guidelines) and the catch-alls of
# bulk imports (abstracts, fact checks, unknown), which carry no grade to audit.
JOURNAL_TYPES = frozenset(STUDY_TYPES) - {
    "regulatory_statement",
    "drug_label",
    "expert_guideline",
    "abstract",
    "fact_check",
    "unknown",
}


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def host_allowed(url: str) -> bool:
    host = host_of(url)
    if host in INDEXES or host in PUBLISHERS or host in AGENCY_HOSTS:
        return True
    return any(host.endswith(suffix) or host == suffix[1:] for suffix in AGENCY_SUFFIXES)


def source_problems(item: dict[str, Any]) -> list[str]:
    """What breaks GRADING.md's source and grade rules in one item (empty when none)."""
    problems = []
    url = str(item.get("source_url") or "")
    if url and not host_allowed(url):
        problems.append(
            f"source_url: host {host_of(url)!r} is not on the allow-list (GRADING.md, 'Sources we link to'); "
            "link the publisher, PubMed/PMC, doi.org or the agency"
        )
    study = item.get("study_type")
    if study in JOURNAL_TYPES and not (item.get("pmid") or item.get("doi") or item.get("source_note")):
        problems.append(f"pmid/doi: a {study} needs a PMID or DOI, or a source_note saying why it has none")
    grade, ceiling = item.get("grade"), CEILING.get(str(study))
    if grade in GRADE_ORDER and ceiling:
        allowed = GRADE_ORDER.index(ceiling)
        if study in RAISABLE and RAISED.search(str(item.get("grade_reason") or "")):
            allowed = min(allowed + 2, len(GRADE_ORDER) - 1)
        if GRADE_ORDER.index(grade) > allowed:
            problems.append(
                f"grade: {grade} is above what a {study} allows ({GRADE_ORDER[allowed]}); "
                "lower it, or say in grade_reason why it was raised (GRADING.md section 3)"
            )
    return problems
