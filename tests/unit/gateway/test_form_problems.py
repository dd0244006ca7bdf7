"""A mutation's typed problem is shown at the form field it is about."""

from __future__ import annotations

from gateway.web.pages.graphql import problems_by_field

FIELDS = ("title", "description", "service_area")
RENAMED = {"serviceArea": "service_area"}


def test_each_named_field_goes_to_the_forms_own_field() -> None:
    answer = {
        "message": "invalid",
        "fields": [
            {"field": "details.serviceArea", "problem": "too long"},
            {"field": "details.description", "problem": "empty"},
            {"field": "details.description", "problem": "second problem, same field"},
        ],
    }
    assert problems_by_field(answer, FIELDS, RENAMED) == {
        "service_area": "too long",
        "description": "empty",
    }


def test_a_problem_about_no_field_of_the_form_is_shown_at_its_first() -> None:
    unknown = {"message": "invalid", "fields": [{"field": "details.budget", "problem": "no"}]}
    assert problems_by_field(unknown, FIELDS, RENAMED) == {"title": "no"}
    refused = {"message": "only commissioners post needs"}
    assert problems_by_field(refused, FIELDS, RENAMED) == {"title": "only commissioners post needs"}
