"""Rendering: placeholders over every field, empty lines vanish, XSS through fields and templates, sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from portal.employees.fields import EMPLOYEE_FIELDS
from portal.signatures.render import (
    MAX_HTML_CHARS,
    TemplateProblem,
    compile_template,
    context_for,
    prepare,
    render,
)

from .htmlcheck import problems, text_of

PAYLOADS = [line for line in (Path(__file__).parent / "xss_payloads.txt").read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("# ")]


def build(source: str, text: str | None = None):
    return compile_template(prepare(source).html, text)


def sample(**fields: str) -> dict:
    return context_for(fields)


def test_every_employee_field_custom_department_and_manager_placeholder_is_filled() -> None:
    source = "".join(f"<p>{name}=[{{{{ {name} }}}}]</p>" for name in EMPLOYEE_FIELDS)
    source += "<p>c=[{{ custom.cost_center }}]</p><p>d=[{{ departments }}]</p><p>m=[{{ manager.job_title }}]</p>"
    values = {name: f"v-{name}" for name in EMPLOYEE_FIELDS}
    context = context_for(values, custom={"cost_center": "CC-7"}, departments=["Sales", "Berlin"],
                          manager={"job_title": "Head of Sales"})
    out = render(build(source), context)
    for name in EMPLOYEE_FIELDS:
        assert f"{name}=[v-{name}]" in out.html
        assert f"{name}=[v-{name}]" in out.text
    assert "c=[CC-7]" in out.html and "d=[Sales, Berlin]" in out.html and "m=[Head of Sales]" in out.html


def test_a_line_whose_placeholders_are_all_empty_disappears_with_its_label() -> None:
    source = ("<table><tr><td><b>{{ full_name }}</b><br>Mobile: {{ mobile }}<br>Phone: {{ phone }}</td></tr>"
              "<tr><td>Fax:</td><td>{{ fax }}</td></tr></table><p>Office: {{ office }}</p><p>Static</p>")
    out = render(build(source), sample(first_name="Ada", last_name="Lovelace", phone="+44 1"))
    assert "Mobile" not in out.html and "Fax" not in out.html and "Office" not in out.html
    assert "Phone: +44 1" in out.html and "<b>Ada Lovelace</b>" in out.html and "<p>Static</p>" in out.html
    assert "Mobile" not in out.text and "Fax" not in out.text and "Office" not in out.text
    assert out.text == "Ada Lovelace\nPhone: +44 1\n\nStatic"
    # a line keeps when one of its placeholders has a value
    both = render(build("<p>{{ phone }} / {{ mobile }}</p>"), sample(mobile="0170"))
    assert "/ 0170" in both.html


def test_a_line_with_a_jinja_statement_is_left_as_written() -> None:
    out = render(build("<p>{% if mobile %}M: {{ mobile }}{% else %}no mobile{% endif %}</p>"), sample())
    assert "no mobile" in out.html


def test_plain_text_is_derived_and_can_be_overridden() -> None:
    compiled = build('<p><a href="https://example.com">Example</a> <a href="mailto:{{ email }}">{{ email }}</a></p>')
    out = render(compiled, sample(email="ada@acme.example"))
    assert out.text == "Example <https://example.com> ada@acme.example"
    custom = build("<p>x</p>", "{{ full_name }}\nMobile: {{ mobile }}\nBye")
    assert render(custom, sample(first_name="Ada")).text == "Ada\nBye"


@pytest.mark.parametrize("value", ["Jürgen Größe-Übel", "王小明 · 北京办公室", "مرحبا بالعالم", "שלום עולם", "Zoë ‏🙂"])
def test_umlauts_cjk_and_right_to_left_text_come_through_unchanged(value: str) -> None:
    out = render(build('<p dir="auto">{{ display_name }}</p>'), sample(display_name=value))
    assert text_of(out.html) == value
    assert out.text == value


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_field_value_can_add_markup_attributes_or_urls(payload: str) -> None:
    """Every payload through every field, in text, in an attribute, in a link, an image and a style."""
    for name in EMPLOYEE_FIELDS:
        compiled = build(f'<p title="{{{{ {name} }}}}"><a href="{{{{ {name} }}}}">{{{{ {name} }}}}</a>'
                         f'<img src="{{{{ {name} }}}}" alt="{{{{ {name} }}}}"><span style="color: {{{{ {name} }}}}">'
                         f'x</span><a href="mailto:{{{{ {name} }}}}">m</a></p>')
        out = render(compiled, context_for({name: payload}))
        assert problems(out.html) == [], name
        # the payload shows as text, never as markup
        assert payload.strip() in text_of(out.html), name
    compiled = build('<p><a href="https://acme.example/?u={{ custom.k }}">{{ custom.k }}</a>{{ manager.phone }}'
                     '<a href="tel:{{ manager.phone }}">t</a></p>')
    out = render(compiled, context_for({}, custom={"k": payload}, manager={"phone": payload}))
    assert problems(out.html) == []
    assert text_of(out.html).startswith(payload.strip())


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_template_cannot_carry_scripts_handlers_or_foreign_urls(payload: str) -> None:
    try:
        compiled = build(f"<table><tr><td>{payload}</td></tr></table><p>{payload}</p>{payload}")
        out = render(compiled, sample(first_name="Ada", phone="+1"))
    except (TemplateProblem, SecurityError):
        return  # refused on save (or by the sandbox): nothing to send
    assert problems(out.html) == []


def test_inline_data_images_stay_and_other_data_urls_go() -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    out = render(build(f'<img src="{image}" alt="logo"><a href="data:text/html,hi">x</a>'
                       '<img src="data:image/svg+xml;base64,PHN2Zz4=">'), sample())
    assert f'src="{image}"' in out.html
    assert "text/html" not in out.html and "svg" not in out.html


@pytest.mark.parametrize(("source", "line", "words"), [
    ("<p>{{ first_name }}</p>\n<p>{{ last_name </p>", 2, "expected"),
    ("<p>\n{% if mobile %}x</p>", 2, "endif"),
    ("<p>{{ frist_name }}</p>", 1, "Unknown placeholder 'frist_name'"),
    ("<p>ok</p>\n<p>{{ display_name|safe }}</p>", 2, "No filter named 'safe'"),
    ("<table>\n{% if mobile %}<tr><td>x</td></tr>{% endif %}</table>", 2, "Put it inside a cell"),
    ("<td {{ mobile }}>x</td>", 1, "attribute's value"),
    ("{% include 'x.html' %}", 1, "cannot include"),
])
def test_a_broken_template_is_refused_with_line_and_reason(source: str, line: int, words: str) -> None:
    with pytest.raises(TemplateProblem) as caught:
        prepare(source)
    assert caught.value.line == line
    assert words in caught.value.message


def test_cleaning_on_save_removes_scripts_and_says_so() -> None:
    prepared = prepare('<p onclick="x()">Hi {{ first_name }}</p><script>alert(1)</script>')
    assert prepared.html == "<p>Hi {{ first_name }}</p>"
    assert prepared.removed
    assert not prepare("<p>Hi {{ first_name }}</p>").removed


def test_html_over_the_outlook_limit_is_refused_with_its_size() -> None:
    compiled = build("<p>" + "x" * (MAX_HTML_CHARS + 10) + "</p>")
    with pytest.raises(TemplateProblem, match=r"30,017 characters"):
        render(compiled, sample())


def test_templates_are_compiled_once() -> None:
    html = prepare("<p>{{ first_name }}</p>").html
    assert compile_template(html) is compile_template(html)


def test_a_vanished_first_or_last_line_leaves_no_br_at_the_edge() -> None:
    compiled = build("<p>{{ mobile }}<br>{{ full_name }}<br>{{ fax }}</p>")
    assert render(compiled, sample(display_name="Ada")).html == "<p>Ada</p>"
    assert render(compiled, sample(display_name="Ada", fax="1")).html == "<p>Ada<br>1</p>"
