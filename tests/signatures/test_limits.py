"""A tiny template cannot ask for gigabytes or minutes: ``*``/``**`` are bounded by the sandbox and a
``{% for %}`` runs only over the departments, once (no loop in a loop)."""

from __future__ import annotations

import re

import pytest

from portal.signatures.render import TemplateProblem, compile_template, context_for, prepare, render

REPEAT = '<p>{{ "x" * 200000000 }}</p>'
NESTED = '<p>{% for a in "x" * 3000 %}{% for b in "x" * 3000 %}{{ a }}{% endfor %}{% endfor %}</p>'


def test_a_huge_repetition_is_refused_on_save_with_its_size() -> None:
    with pytest.raises(TemplateProblem) as refused:
        prepare(REPEAT)
    assert refused.value.line == 1
    assert "200,000,000 characters" in refused.value.message and "at most to 10,000" in refused.value.message


def test_nested_loops_over_a_long_string_are_refused_on_save() -> None:
    with pytest.raises(TemplateProblem) as refused:
        prepare(NESTED)
    assert refused.value.message.startswith("{% for %} may only run over departments")


@pytest.mark.parametrize(("source", "words"), [
    ("<p>{{ 9 ** 99999 }}</p>", "9 ** 99999"),
    ("<p>{{ [1, 2] * 6000 }}</p>", "2 × 6,000"),
    ("<p>{% for d in departments %}{% for e in departments %}{{ e }}{% endfor %}{% endfor %}</p>",
     "cannot hold another"),
    ('<p>{% set departments = "x" * 3000 %}{% for d in departments %}{{ d }}{% endfor %}</p>', "cannot be set"),
    ("<p>{% for d in departments|list %}{{ d }}{% endfor %}</p>", "may only run over departments"),
])
def test_other_ways_to_grow_are_refused_on_save(source: str, words: str) -> None:
    with pytest.raises(TemplateProblem, match=re.escape(words)):
        prepare(source)


def test_a_repetition_of_an_employees_value_is_refused_when_rendering() -> None:
    compiled = compile_template(prepare("<p>{{ full_name * 100000 }}</p>").html)
    with pytest.raises(TemplateProblem, match="3 × 100,000 = 300,000 characters"):
        render(compiled, context_for({"display_name": "Ada"}))


def test_ordinary_arithmetic_repetition_and_a_departments_loop_still_render() -> None:
    source = ('<p>{{ full_name }}<br>{{ "-" * 20 }} {{ 3 * 4 }} {{ 2 ** 10 }}</p>'
              '<p>{% for d in departments %}{{ d }}{% endfor %}</p>')
    out = render(compile_template(prepare(source).html),
                 context_for({"display_name": "Ada Lovelace"}, departments=["Research", "Ops"]))
    assert out.html == "<p>Ada Lovelace<br>" + "-" * 20 + " 12 1024</p><p>Research, Ops</p>"
    assert "Research, Ops" in out.text


@pytest.mark.parametrize("source", [
    '<p>{{ "%0200000000d" % 1 }}</p>',
    '<p>{{ "%*d"|format(200000000, 1) }}</p>',
    '<p>{{ "x"|center(200000000) }}</p>',
    '<p>{{ "{:>200000000}".format(full_name) }}</p>',
])
def test_padding_to_a_huge_width_is_refused(source: str) -> None:
    with pytest.raises(TemplateProblem, match="too large for a signature"):
        render(compile_template(prepare(source).html), context_for({"display_name": "Ada"}))


def test_ordinary_formatting_still_renders() -> None:
    source = '<p>{{ "%05.2f" % 3.14159 }} {{ "%s-%s"|format(1, 2) }} [{{ "{:>5}".format(full_name) }}] {{ 7 % 3 }}</p>'
    out = render(compile_template(prepare(source).html), context_for({"display_name": "Ada"}))
    assert out.html == "<p>03.14 1-2 [  Ada] 1</p>"
