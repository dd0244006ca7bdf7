"""The innovation exchange: a charity shares a practice (with a preview), a commissioner
endorses it and comments, someone reports a reply, and an operator hides it from the
moderation queue; browsing and searching find it."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import checked
from tests.browser.test_find_partners import COMMISSIONER, sign_in
from tests.browser.test_needs import PARTNER

pytestmark = pytest.mark.browser

OPERATOR = "Platform operator, PSP Exchange operations"


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in").first).to_be_visible()


def test_share_endorse_discuss_and_moderate_a_practice(page: Page) -> None:
    unique = f"zephrin{uuid.uuid4().hex[:8]}"
    title = f"Walk and talk {unique}"

    sign_in(page, PARTNER)
    page.get_by_role("link", name="Good practice").first.click()
    page.get_by_role("button", name="Share a practice").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("The practice").fill(
        "We walk *every week*.\n\n![route](https://maps.example/r.png)"
    )
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    expect(preview.locator("em")).to_have_text("every week")
    expect(preview.locator("img")).to_have_count(
        0
    )  # an image is a link: nothing loads from elsewhere
    expect(page.locator(".govuk-error-summary")).to_have_count(0)  # a preview is not a save
    checked(page, "practice-preview")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a summary")
    page.get_by_label("Summary").fill(f"Weekly walks {unique} for isolated older people")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/practices/*")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    practice_url = page.url
    sign_out(page)

    sign_in(page, COMMISSIONER)
    page.goto(practice_url)
    page.get_by_role("button", name="Endorse this practice").click()
    endorsed = page.locator("#endorsements").locator("..")
    expect(endorsed).to_contain_text("Manchester City Council")
    expect(page.get_by_role("button", name="Withdraw your endorsement")).to_be_visible()
    page.get_by_label("Add a comment").fill("How did you recruit the walkers?")
    page.get_by_role("button", name="Post comment").click()
    comment = page.locator(".pspx-comment").filter(has_text="How did you recruit")
    expect(comment).to_be_visible()
    checked(page, "practice")
    sign_out(page)

    sign_in(page, PARTNER)
    page.goto(practice_url)
    comment.locator("summary", has_text="Reply").click()
    comment.get_by_label("Your reply").fill("Buy cheap watches here")
    comment.get_by_role("button", name="Post reply").click()
    reply = page.locator(".pspx-comment .pspx-comment").filter(has_text="Buy cheap watches")
    expect(reply).to_be_visible()  # threaded under the question
    reply.locator("summary", has_text="Report this comment").first.click()
    reply.get_by_label("What is wrong with it?").first.fill("advertising")
    reply.get_by_role("button", name="Report to a moderator").first.click()
    sign_out(page)

    sign_in(page, OPERATOR)
    page.get_by_role("link", name="Moderation").first.click()
    queued = page.locator(".pspx-result").filter(has_text="Buy cheap watches")
    expect(queued).to_contain_text("advertising")
    checked(page, "moderation")
    queued.get_by_label("Why hide it?").fill("Advertising")
    queued.get_by_role("button", name="Hide the comment").click()
    expect(page.locator(".pspx-result").filter(has_text="Buy cheap watches")).to_have_count(0)
    page.goto(practice_url)
    expect(page.get_by_text("Buy cheap watches")).to_have_count(0)
    expect(page.get_by_text("A moderator hid this comment")).to_be_visible()

    page.goto(f"/practices?q={unique}")
    expect(page.locator(".pspx-result").first).to_contain_text(title)
    checked(page, "practices")


def test_the_exchange_in_swedish(page: Page) -> None:
    page.goto("/practices")
    page.get_by_label("Language").select_option(label="Svenska")
    page.get_by_role("button", name="Change").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Goda exempel")
