"""A commissioner posts a need, fixing the field it got wrong, watches a partner registered
afterwards join its shortlist without reloading, proposes a partnership and moves it to
co-planning; without JavaScript the need is posted and its shortlist shows after a reload;
a partner organisation sees the needs that fit it."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import checked
from tests.browser.test_find_partners import COMMISSIONER, sign_in

pytestmark = pytest.mark.browser

PARTNER = "Services coordinator, Older People's Action in the Locality (Leeds)"


def word() -> str:
    return f"quorvel{uuid.uuid4().hex[:8]}"


def post_need(page: Page, title: str, description: str, *, scripts: bool = True) -> None:
    page.goto("/needs")
    page.get_by_role("button", name="Post a need").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("What is the service and who is it for?").fill(description)
    page.get_by_label("Budget, at most").fill("lots")
    page.get_by_role("button", name="Post the need").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Enter the budget as a whole number of pounds")
    expect(page.locator("#budget_max-error")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value(title)  # nothing typed is lost
    if scripts:  # axe-core runs in the page
        checked(page, "post-need-error")
    page.get_by_label("Budget, at most").fill("50,000")
    page.get_by_role("button", name="Post the need").click()
    page.wait_for_url("**/needs/need-*")


def register(urls: dict[str, str], name: str, description: str) -> str:
    org_id = f"GB-CHC-{uuid.uuid4().int % 10**8}"
    body = {"id": org_id, "profile": {"name": name, "kind": "charity", "description": description}}
    response = httpx.post(f"{urls['registry']}/organisations", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return org_id


def test_a_shortlist_fills_in_live_and_a_partnership_moves_to_co_planning(
    page: Page, urls: dict[str, str]
) -> None:
    unique = word()
    sign_in(page)
    post_need(page, f"Befriending {unique}", f"Befriending {unique} for isolated older people")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Befriending {unique}")
    checked(page, "need")

    page.evaluate("window.notReloaded = true")
    shortlist = page.locator("#shortlist")
    chosen_first = shortlist.locator("input[type=checkbox]").first
    chosen_first.check()
    chosen_value = chosen_first.get_attribute("value")
    name = f"Friends of {unique}"
    register(urls, name, f"{unique} befriending {unique} visits for isolated older people")
    expect(shortlist).to_contain_text(name, timeout=30_000)
    assert page.evaluate("window.notReloaded") is True  # it came in live
    # What the reader had chosen survives the refresh, wherever that partner now ranks.
    expect(shortlist.locator(f"input[value='{chosen_value}']")).to_be_checked()

    shortlist.get_by_label(name, exact=False).check()
    page.get_by_role("button", name="Propose a partnership").click()
    page.wait_for_url("**/partnerships/*")
    expect(page.get_by_text("Proposed").first).to_be_visible()
    page.get_by_role("button", name="Move to co-planning").click()
    history = page.locator("table")
    expect(history).to_contain_text("Co-planning")
    expect(history.locator("tbody tr")).to_have_count(2)
    checked(page, "partnership")

    navigation = page.get_by_role("navigation")
    expect(navigation.get_by_role("link", name="Partnerships")).to_have_attribute(
        "aria-current", "true"
    )
    expect(navigation.get_by_role("link", name="Find partners")).not_to_have_attribute(
        "aria-current", "true"
    )
    page.get_by_role("link", name="Partnerships").first.click()
    column = page.locator("section", has=page.get_by_role("heading", name="Co-planning"))
    expect(column).to_contain_text(f"Befriending {unique}")
    checked(page, "partnerships")


def test_without_javascript_a_need_is_posted_and_its_shortlist_shows_after_a_reload(
    browser: Browser, site: str, urls: dict[str, str]
) -> None:
    context = browser.new_context(base_url=site, java_script_enabled=False)
    page = context.new_page()
    unique = word()
    sign_in(page)
    post_need(
        page,
        f"Lunch clubs {unique}",
        f"Lunch clubs {unique} for isolated older people",
        scripts=False,
    )
    name = f"{unique} Lunch Club"
    register(urls, name, f"{unique} lunch clubs {unique} for isolated older people")
    shortlist = page.locator("#shortlist")
    for _ in range(60):
        page.reload()
        if name in shortlist.inner_text():
            break
        page.wait_for_timeout(500)
    expect(shortlist).to_contain_text(name)
    context.close()


def test_a_partner_sees_the_needs_that_fit_it(page: Page) -> None:
    sign_in(page, PARTNER)
    page.get_by_role("link", name="Needs").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Needs that fit us")
    fits = page.locator("#fits .pspx-result")
    expect(fits.first).to_be_visible()
    expect(fits.first.locator(".pspx-reasons li").first).to_be_visible()
    checked(page, "needs-that-fit")


def test_commissioner_needs_are_its_own(page: Page) -> None:
    sign_in(page, COMMISSIONER)
    page.goto("/needs")
    expect(page.get_by_role("button", name="Post a need")).to_be_visible()
    checked(page, "needs")
