"""A commissioner signs in and finds partners, with the reasons for each rank; the same
search works without JavaScript, by keyboard alone, and in Swedish and Bulgarian."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import WIDTHS, checked

pytestmark = pytest.mark.browser

COMMISSIONER = "Commissioning officer, Manchester City Council"
NEED = "befriending for isolated older people"
SUPPORT = "подкрепа"  # "support" in Bulgarian: demo partners of every size use the word


def sign_in(page: Page, who: str = COMMISSIONER) -> None:
    page.goto("/sign-in")
    page.get_by_label(who).check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {who}")).to_be_visible()


def test_a_commissioner_signs_in_searches_and_sees_why_partners_rank(page: Page) -> None:
    page.goto("/")
    checked(page, "start")
    page.goto("/sign-in")
    expect(page.get_by_text("This is a demonstration")).to_be_visible()
    checked(page, "sign-in")
    sign_in(page)

    page.get_by_role("link", name="Find partners").first.click()
    page.get_by_label("What should the partner do?").fill(NEED)
    page.get_by_role("button", name="Search").click()
    results = page.locator(".pspx-result")
    expect(results.first).to_be_visible()
    assert results.count() >= 5
    first_reasons = results.first.get_by_role("list", name="Why this partner").locator("li")
    words = {w.strip().lower() for w in first_reasons.all_inner_texts()}
    assert words & {"befriending", "isolated", "older", "people"}, words
    checked(page, "find-partners")

    name = results.first.get_by_role("link").inner_text()
    results.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    checked(page, "organisation")


def test_an_empty_search_names_the_field(page: Page) -> None:
    page.goto("/partners?q=")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Enter what the partner should do")
    summary.get_by_role("link").click()
    expect(page.get_by_label("What should the partner do?")).to_be_focused()
    checked(page, "find-partners-error")


def test_the_search_works_without_javascript(browser: Browser, site: str) -> None:
    context = browser.new_context(base_url=site, java_script_enabled=False)
    page = context.new_page()
    page.goto("/partners")
    page.get_by_label("What should the partner do?").fill(NEED)
    page.get_by_label("Charity").check()
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".pspx-result").first).to_be_visible()
    assert "kind=CHARITY" in page.url
    expect(page.get_by_label("Charity")).to_be_checked()
    context.close()


def test_a_size_leaves_only_partners_of_that_size(page: Page) -> None:
    page.goto("/partners")
    page.get_by_label("What should the partner do?").fill(SUPPORT)
    page.get_by_role("button", name="Search").click()
    sizes = page.locator(".pspx-result .pspx-size")
    expect(sizes.first).to_be_visible()
    everyone = page.locator(".pspx-result").count()
    assert set(sizes.all_inner_texts()) == {"Micro", "Small", "Medium", "Large"}

    page.get_by_label("Medium", exact=True).check()
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_label("Medium", exact=True)).to_be_checked()
    assert "size=MEDIUM" in page.url
    results = page.locator(".pspx-result")
    expect(results.first).to_be_visible()
    assert 0 < results.count() < everyone
    assert sizes.all_inner_texts() == ["Medium"] * results.count()
    checked(page, "find-partners-by-size")

    results.first.get_by_role("link").click()
    expect(page.get_by_text("Medium (50 to 249 paid staff)")).to_be_visible()


def tab_to(page: Page, describe: str, limit: int = 80) -> None:
    """Press Tab until the focused element's label, text or id is ``describe``."""
    here = """() => { const e = document.activeElement;
        const label = e.labels && e.labels[0] ? e.labels[0].textContent : "";
        return [label.trim(), e.textContent.trim(), e.id] }"""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if describe in page.evaluate(here):
            return
    raise AssertionError(f"Tab never reached {describe!r}")


def test_sign_in_search_and_open_a_profile_by_keyboard_alone(page: Page) -> None:
    page.goto("/sign-in")
    tab_to(page, COMMISSIONER)
    page.keyboard.press("Space")
    tab_to(page, "Sign in")
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"Signed in as {COMMISSIONER}")).to_be_visible()
    tab_to(page, "Find partners")
    page.keyboard.press("Enter")
    page.wait_for_url("**/partners")
    tab_to(page, "q")  # the search box
    page.keyboard.type(NEED)
    tab_to(page, "Search")
    page.keyboard.press("Enter")
    page.wait_for_url("**/partners?*")
    first = page.locator(".pspx-result").first.get_by_role("link")
    expect(first).to_be_visible()
    name = first.inner_text()
    tab_to(page, name)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


@pytest.mark.parametrize(
    ("language", "heading", "why"),
    [
        ("Svenska", "Hitta partner", "Varför denna partner:"),
        ("Български", "Намерете партньори", "Защо този партньор:"),
    ],
)
def test_the_search_page_in_swedish_and_bulgarian(
    page: Page, language: str, heading: str, why: str
) -> None:
    page.goto(f"/partners?q={NEED}")
    page.get_by_label("Language").select_option(label=language)
    page.get_by_role("button", name="Change").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_text(why).first).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", page.locator("#lang").input_value())


def test_the_browser_language_is_used_until_the_reader_chooses(browser: Browser, site: str) -> None:
    context = browser.new_context(base_url=site, locale="bg-BG")
    page = context.new_page()
    page.goto("/partners")
    expect(page.get_by_role("heading", level=1)).to_have_text("Намерете партньори")
    context.close()


def test_a_form_posted_from_elsewhere_is_refused(site: str) -> None:
    with httpx.Client(base_url=site) as client:
        client.get("/sign-in")  # a session, but no token from its form
        refused = client.post(
            "/sign-in", data={"user": "demo-commissioner-manchester", "csrf_token": "forged"}
        )
    assert refused.status_code == 400
    assert "Signed in as" not in refused.text


def test_pages_fit_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": WIDTHS["phone"], "height": 800})
    page.goto(f"/partners?q={NEED}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_an_organisation_edits_its_own_profile(page: Page) -> None:
    sign_in(page, "Service development manager, Simon Community Scotland")
    page.goto("/organisations/GB-SC-SC003076")
    page.get_by_role("link", name="Edit your organisation's profile").click()
    page.get_by_label("Website").fill("not a web address")
    page.get_by_label("Volunteers").fill("many")
    page.get_by_role("button", name="Save changes").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Enter a whole number")
    checked(page, "organisation-edit-error")
    page.get_by_label("Volunteers").fill("120")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#website-error")).to_be_visible()  # the registry's own rule, by field
    page.get_by_label("Website").fill("https://simon.example")
    note = f"Street outreach {uuid.uuid4().hex[:6]}"
    description = page.get_by_label("What your organisation does")
    description.fill(f"{description.input_value()} {note}")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Simon Community Scotland")
    expect(page.get_by_text(note)).to_be_visible()


def test_another_organisations_profile_is_not_editable(page: Page) -> None:
    sign_in(page)
    page.goto("/organisations/GB-SC-SC003076")
    expect(page.get_by_role("link", name="Edit your organisation's profile")).to_have_count(0)
