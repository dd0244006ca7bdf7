"""A partnership's page: the commissioner answers the route check with one question left
unknown and sees the reason for every criterion; both sides record what they put in and see
it in the ledger's table and chart; outcomes measured twice show as a table and charts over
time; a bad money value, a value the service refuses and a form made stale by another tab
each come back with the GOV.UK error summary and what was typed."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import checked
from tests.browser.test_find_partners import sign_in
from tests.browser.test_needs import PARTNER, post_need

pytestmark = pytest.mark.browser

PARTNER_ID = "GB-CHC-1131792"  # Older People's Action in the Locality, the demo partner
WORDS = (
    "Older people in Leeds living informed, healthy and happy lives in their own homes, "
    "with activities that promote independence and reduce social isolation"
)
UNKNOWN = "Does a public programme or plan name organisations like this?"
ANSWERS = {
    "Did the voluntary organisation start this activity?": "Yes",
    UNKNOWN: "Not known",
    "Is there no market or competition for this service?": "No",
    "Do both sides put something in, money or in kind?": "Yes",
    "Will the public body leave the detail of the work to the organisation?": "Yes",
    "Do several providers offer this activity?": "No",
    "Does the organisation make a profit from it?": "No",
    "Are there third-sector providers able to deliver it?": "Yes",
    "Is a commissioner committed to it?": "Yes",
    "Can the parties work as equals, with a shared interest and trust?": "Yes",
}


def propose(page: Page) -> str:
    """A commissioner posts a need the demo partner fits and proposes a partnership with it;
    the partnership's path."""
    unique = f"quorvel{uuid.uuid4().hex[:8]}"
    sign_in(page)
    post_need(page, f"Staying well at home {unique}", f"{WORDS} {unique}")
    partner = page.locator(f'#shortlist input[value="{PARTNER_ID}"]')
    for _ in range(60):
        if partner.count():
            break
        page.wait_for_timeout(500)
        page.reload()
    for _ in range(3):  # the shortlist may refresh live between the check and the click
        partner.check()
        with page.expect_navigation():
            page.get_by_role("button", name="Propose a partnership").click()
        if urlsplit(page.url).path.startswith("/partnerships/"):
            break
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Staying well at home {unique}")
    return urlsplit(page.url).path


def record_contribution(page: Page, form: str, description: str, value: str) -> None:
    contributions = page.locator("#contributions")
    contributions.get_by_label(form, exact=True).check()
    page.get_by_label("What is it?").fill(description)
    page.get_by_label("Value", exact=True).fill(value)
    with page.expect_navigation():
        page.get_by_role("button", name="Record the contribution").click()


def record_outcomes(page: Page, people: str, savings: str, measures: str) -> None:
    page.get_by_label("People served", exact=True).fill(people)
    page.get_by_label("Cost savings", exact=True).fill(savings)
    page.get_by_label("Quality measures").fill(measures)
    with page.expect_navigation():
        page.get_by_role("button", name="Record the outcomes").click()
    assert urlsplit(page.url).fragment == "outcomes"


def test_a_partnership_is_route_checked_co_financed_and_measured(page: Page) -> None:
    partnership = propose(page)
    unanswered = page.locator("#route-unanswered li")
    expect(unanswered).to_have_count(len(ANSWERS))  # proposed with nothing answered
    expect(page.get_by_text("No contributions recorded yet.")).to_be_visible()
    expect(page.get_by_text("Outcomes can be recorded from co-planning on.")).to_be_visible()
    expect(page.get_by_role("button", name="Record the outcomes")).to_have_count(0)
    checked(page, "partnership-proposed")

    page.get_by_text("Answer the route check").click()
    for question, answer in ANSWERS.items():
        page.get_by_role("group", name=question).get_by_label(answer, exact=True).check()
    page.get_by_label("Notes on the answers (optional)").fill("Checked with procurement")
    page.get_by_role("button", name="Check the route").click()
    page.wait_for_url("**#route-check")
    expect(unanswered).to_have_text([UNKNOWN])
    route = page.locator("#route-check")
    expect(route).to_contain_text("Co-plan and pilot as a Public Social Partnership")
    criteria = page.locator("#route-criteria")
    expect(criteria.locator(".govuk-summary-list__row")).to_have_count(len(ANSWERS))
    expect(criteria).to_contain_text(
        "The organisation started this activity: a partnership follows its initiative."
    )
    expect(criteria).to_contain_text("A market exists: partnering directly could distort")
    expect(criteria).to_contain_text("Not answered yet: a public programme or plan names")
    expect(route).to_contain_text("Checked with procurement")
    expect(page.locator('input[name="no_market"][value="no"]')).to_be_checked()  # as answered
    checked(page, "partnership-route-check")

    record_contribution(page, "Money", "A grant for the pilot", "fifty thousand")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Enter the value as a whole number of pounds")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#contribution_value")
    expect(page.locator("#contribution_value-error")).to_be_visible()
    expect(page.get_by_label("What is it?")).to_have_value("A grant for the pilot")
    expect(page.get_by_label("Value", exact=True)).to_have_value("fifty thousand")
    expect(page.locator("#contributions").get_by_label("Money", exact=True)).to_be_checked()
    checked(page, "partnership-contribution-error")
    page.get_by_label("Value", exact=True).fill("£50,000")
    page.get_by_role("button", name="Record the contribution").click()
    page.wait_for_url("**#contributions")
    expect(summary).to_have_count(0)
    expect(page.get_by_text("Not co-financed yet")).to_be_visible()
    expect(page.locator("#ledger tbody tr").first).to_contain_text("£50,000")
    checked(page, "partnership-money")

    sign_in(page, PARTNER)
    page.goto(partnership)
    record_contribution(page, "In kind", "Volunteers' time, ten hours a week", "12000")
    page.wait_for_url("**#contributions")
    expect(page.get_by_text("the partnership is co-financed")).to_be_visible()
    ledger = page.locator("#ledger")
    expect(ledger.locator("tbody tr")).to_have_text(
        [
            re.compile(r"Public sector\s+£50,000\s+£0\s+£50,000"),
            re.compile(r"Third sector\s+£0\s+£12,000\s+£12,000"),
            re.compile(r"Total\s+£50,000\s+£12,000\s+£62,000"),
        ]
    )
    lines = page.locator("#contribution-lines tbody tr")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text("A grant for the pilot")
    expect(lines.nth(1)).to_contain_text("Volunteers' time, ten hours a week")
    chart = page.get_by_role("img", name="What each side puts in")
    expect(chart.locator(".pspx-chart__bar")).to_have_count(2)
    public = chart.locator('.pspx-chart__bar[data-side="public"]')
    third_sector = chart.locator('.pspx-chart__bar[data-side="third_sector"]')
    expect(public).to_contain_text("£50,000")
    expect(third_sector).to_contain_text("£12,000")
    money = float(public.locator(".pspx-chart__money").get_attribute("width") or 0)
    in_kind = float(third_sector.locator(".pspx-chart__in-kind").get_attribute("width") or 0)
    assert money > in_kind > 0
    assert in_kind / money == pytest.approx(12_000 / 50_000, abs=0.01)
    checked(page, "partnership-ledger")

    sign_in(page)
    page.goto(partnership)
    page.get_by_role("button", name="Move to co-planning").click()
    page.wait_for_url("**#stage")
    expect(page.get_by_text("No outcomes recorded yet.")).to_be_visible()
    record_outcomes(page, "120", "£8,000", "Satisfaction: 4.5")
    expect(page.get_by_label("People served", exact=True)).to_have_value("120")
    record_outcomes(page, "180", "15000", "Satisfaction: 4.7\nWaiting weeks: 3")
    history = page.locator("#outcome-history")
    expect(history.locator("thead")).to_contain_text("Waiting weeks")
    rows = history.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(re.compile(r"120\s+£8,000\s+4\.5\s+–"))
    expect(rows.nth(1)).to_contain_text(re.compile(r"180\s+£15,000\s+4\.7\s+3"))
    first, second = (rows.nth(i).locator("time").get_attribute("datetime") or "" for i in (0, 1))
    assert first and second and first < second
    for row in (0, 1):
        expect(rows.nth(row).locator("time")).to_have_text(
            re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$")
        )
    people = page.get_by_role("img", name="People served over time")
    expect(people.locator(".pspx-chart__point")).to_have_count(2)
    heights = [
        float(people.locator(".pspx-chart__column").nth(i).get_attribute("height") or 0)
        for i in (0, 1)
    ]
    assert 0 < heights[0] < heights[1]
    savings = page.get_by_role("img", name="Cost savings over time")
    expect(savings).to_contain_text("£15,000")
    checked(page, "partnership-outcomes")


def test_a_refused_value_and_a_stale_form_keep_what_was_typed(page: Page) -> None:
    partnership = propose(page)
    record_contribution(page, "Money", "x" * 501, "100")
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("link")).to_have_attribute("href", "#contribution_description")
    expect(page.locator("#contribution_description-error")).to_contain_text("500 characters")
    expect(page.get_by_label("Value", exact=True)).to_have_value("100")
    checked(page, "partnership-contribution-refused")

    other = page.context.new_page()
    other.goto(partnership)
    record_contribution(other, "In kind", "Meeting rooms", "2,000")
    other.wait_for_url("**#contributions")
    other.close()

    page.get_by_label("What is it?").fill("Room hire")
    with page.expect_navigation():
        page.get_by_role("button", name="Record the contribution").click()
    expect(summary).to_contain_text("The partnership changed while you had this page open")
    expect(page.get_by_label("What is it?")).to_have_value("Room hire")
    expect(page.get_by_label("Value", exact=True)).to_have_value("100")
    expect(page.locator("#contribution-lines tbody tr")).to_have_count(1)
    checked(page, "partnership-stale")
    page.get_by_role("button", name="Record the contribution").click()
    page.wait_for_url("**#contributions")
    expect(page.locator("#contribution-lines tbody tr")).to_have_count(2)
