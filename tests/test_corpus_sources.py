"""GRADING.md's source and grade rules, as the audit applies them to one item."""

from __future__ import annotations

from veracity.corpus.sources import host_allowed, source_problems

TRIAL = {
    "id": "t-1",
    "statement": "Buprenorphine retained more people in treatment than placebo.",
    "source_title": "Buprenorphine maintenance versus placebo or methadone maintenance for opioid dependence",
    "source_url": "https://pubmed.ncbi.nlm.nih.gov/24500948/",
    "pmid": "24500948",
    "publisher": "Cochrane Database of Systematic Reviews",
    "year": 2014,
    "study_type": "systematic_review",
    "grade": "high",
    "grade_reason": "Review of RCTs.",
    "topic": "opioid-use-disorder",
}


def test_links_must_point_to_the_source_not_a_copy():
    assert host_allowed("https://www.fda.gov/news-events/press-announcements/x")
    assert host_allowed("https://stacks.cdc.gov/view/cdc/170565")
    assert host_allowed("https://doi.org/10.1001/jama.287.14.1807")
    assert not host_allowed("https://pdfslide.us/documents/nida-report")
    assert not host_allowed("https://uk.reuters.com/article/brief-statement")
    assert not host_allowed("https://jhm.qa00.mdedge.com/familymedicine/article/259205")
    assert not host_allowed("https://evil.gov.example.com/page")
    problems = source_problems(dict(TRIAL, source_url="https://docslib.org/doc/5832133"))
    assert len(problems) == 1 and "docslib.org" in problems[0] and "allow-list" in problems[0]


def test_a_journal_article_needs_an_identifier_or_a_note_saying_why_not():
    bare = {k: v for k, v in TRIAL.items() if k != "pmid"}
    assert any(p.startswith("pmid/doi") for p in source_problems(bare))
    assert source_problems(dict(bare, source_note="Book chapter; no PMID or DOI.")) == []
    assert source_problems(dict(bare, study_type="regulatory_statement")) == []


def test_grades_stay_within_what_the_study_type_allows_unless_the_reason_says_why():
    survey = dict(TRIAL, study_type="cross_sectional", grade="moderate", grade_reason="Small lab sample.")
    assert any("above what a cross_sectional allows (low)" in p for p in source_problems(survey))
    assert source_problems(dict(survey, grade="low")) == []
    record = dict(survey, grade="high", grade_reason="Descriptive record: complete national vital statistics count.")
    assert source_problems(record) == []
    raised = dict(TRIAL, study_type="cohort", grade="moderate", grade_reason="Raised one level for a rate ratio of 3.")
    assert source_problems(raised) == []
    not_raised = dict(raised, grade_reason="Large cohort; lowered as GRADING.md caps a cohort at low.")
    assert source_problems(not_raised) != []
    assert source_problems(dict(TRIAL, study_type="case_report", grade="low", grade_reason="Raised.")) != []
