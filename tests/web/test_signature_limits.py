"""The review's two templates (a huge repetition, nested loops over a long string) are refused on save and in
the live preview, with the reason, and nothing is stored."""

from __future__ import annotations

import html

import pytest
from sqlmodel import select

from portal.models import SignatureTemplate

from .conftest import hx

REPEAT = '<p>{{ "x" * 200000000 }}</p>'
NESTED = '<p>{% for a in "x" * 3000 %}{% for b in "x" * 3000 %}{{ a }}{% endfor %}{% endfor %}</p>'
CASES = [(REPEAT, "200,000,000 characters"), (NESTED, "may only run over departments")]


@pytest.mark.parametrize(("source", "words"), CASES)
def test_a_runaway_template_is_refused_on_save(signed_in, csrf_token, db, org, source: str, words: str) -> None:
    token = csrf_token(signed_in, "/signatures/new")
    response = signed_in.post("/signatures/", data={"name": "Runaway", "html": source, "csrf_token": token})
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "Line 1:" in page and words in page
    assert db.exec(select(SignatureTemplate)).first() is None


@pytest.mark.parametrize(("source", "words"), CASES)
def test_a_runaway_template_is_refused_in_the_preview(signed_in, csrf_token, org, source: str, words: str) -> None:
    token = csrf_token(signed_in, "/signatures/new")
    response = signed_in.post("/signatures/preview", headers=hx(token), data={"html": source})
    body = html.unescape(response.get_data(as_text=True))
    assert "Line 1:" in body and words in body
    assert "sig-frame" not in body


def test_a_departments_loop_previews(signed_in, csrf_token, org) -> None:
    token = csrf_token(signed_in, "/signatures/new")
    response = signed_in.post("/signatures/preview", headers=hx(token),
                              data={"html": "<p>{{ full_name }} – {% for d in departments %}{{ d }}{% endfor %}</p>"})
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and "sig-frame" in body and "Research" in body
