"""The output pass is skipped only where it is provably a no-op: employee data reaches the HTML as escaped
text or escaped attribute values, URLs only through the scheme check. Checked with an HTML parser over the
XSS corpus: nh3 over a rendered signature changes nothing but spelling, and nothing outside the allowed set
gets through; a template outside the proved shape keeps the output pass."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from portal.employees.fields import EMPLOYEE_FIELDS
from portal.signatures.render import allowed_url, clean_output, compile_template, context_for, prepare, render

from .htmlcheck import problems, text_of
from .test_render import PAYLOADS


class _Events(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        self.events.append(("start", tag, tuple(sorted((k, v or "") for k, v in attrs))))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        self.events.append(("end", tag))

    def handle_data(self, data):
        if self.events and self.events[-1][0] == "data":
            self.events[-1] = ("data", self.events[-1][1] + data)
        else:
            self.events.append(("data", data))

    def handle_comment(self, data):
        self.events.append(("comment", data))


def events(html: str) -> list[tuple]:
    parser = _Events()
    parser.feed(html)
    parser.close()
    return parser.events


def build(source: str):
    return compile_template(prepare(source).html)


def _fields_template(name: str) -> str:
    """Every place a placeholder may stand in a template that skips the output pass."""
    return (f'<table><tr><td title="{{{{ {name} }}}}"><a href="{{{{ {name} }}}}">{{{{ {name} }}}}</a>'
            f'<img src="{{{{ {name} }}}}" alt="{{{{ {name} }}}}" width="{{{{ {name} }}}}"><br>'
            f'<a href="mailto:{{{{ {name} }}}}">m</a> <a href="https://acme.example/?q={{{{ {name}|upper }}}}">q</a>'
            f'<a href="{{{{ {name} }}}}/x?{{{{ {name} }}}}">both</a><br>'
            f"{{% if {name} %}}<b>{{{{ {name}|trim }}}}</b>{{% endif %}}</td></tr></table>")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_field_value_gets_past_the_escaping_and_the_sanitizer_would_change_nothing(payload: str) -> None:
    for name in EMPLOYEE_FIELDS:
        compiled = build(_fields_template(name))
        assert not compiled.sanitize_output, name
        out = render(compiled, context_for({name: payload})).html
        assert problems(out) == [], name
        assert payload.strip() in text_of(out), name
        assert events(clean_output(out)) == events(out), name  # the output pass would be a no-op
    compiled = build('<p><a href="{{ custom.site }}">{{ custom.site }}</a> {{ manager.phone }} {{ departments }}'
                     '<img src="{{ photo_url }}" alt="{{ manager.display_name }}"></p>')
    assert not compiled.sanitize_output
    out = render(compiled, context_for({}, custom={"site": payload}, departments=[payload], photo_url=payload,
                                       manager={"phone": payload, "display_name": payload})).html
    assert problems(out) == [] and events(clean_output(out)) == events(out)


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", " JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "\x01javascript:alert(1)",
    "vbscript:msgbox(1)", "data:text/html;base64,PHNjcmlwdD4=", "//evil.example/x.png", "/relative", "x.png", " ",
    "data:image/svg+xml;base64,PHN2Zz4=",
])
def test_a_url_made_of_placeholders_is_written_only_with_an_allowed_scheme(url: str) -> None:
    compiled = build('<p><a href="{{ custom.u }}">a</a><img src="{{ custom.u }}" alt="i"></p>')
    out = render(compiled, context_for({}, custom={"u": url})).html
    assert out == '<p><a>a</a><img alt="i"></p>'
    assert events(clean_output(out)) == events(out)


def test_allowed_urls_and_inline_images_stay() -> None:
    compiled = build('<p><a href="{{ custom.u }}">a</a><img src="{{ custom.u }}" alt="i"></p>')
    for url in ("https://acme.example/a?b=1&c=2", "mailto:ada@acme.example", "tel:+49 30 1234"):
        out = render(compiled, context_for({}, custom={"u": url})).html
        assert out.count(url.replace("&", "&amp;")) == 2
    image = "data:image/png;base64,iVBORw0KGgo="
    out = render(compiled, context_for({}, custom={"u": image})).html
    assert out == f'<p><a>a</a><img src="{image}" alt="i"></p>'  # an inline image only in <img src>
    assert allowed_url("img", "src", image) == image and allowed_url("a", "href", image) is None


def test_a_static_relative_url_goes_at_compile_time_as_the_output_pass_would_drop_it() -> None:
    compiled = build('<p><a href="/about">About</a> <a href="https://acme.example">Acme</a> {{ first_name }}</p>')
    assert not compiled.sanitize_output
    assert render(compiled, context_for({"first_name": "Ada"})).html == (
        '<p><a>About</a> <a href="https://acme.example">Acme</a> Ada</p>')


@pytest.mark.parametrize("source", [
    '<p style="color: {{ custom.c }}">x {{ first_name }}</p>',  # a placeholder in CSS
    "<p>{% autoescape false %}{{ first_name }}{% endautoescape %}</p>",  # escaping switched off
    "<p>{% set x %}<b>{{ first_name }}</b>{% endset %}{{ x }}</p>",  # markup captured as a value
    "<p>{% filter upper %}<b>{{ first_name }}</b>{% endfilter %}</p>",  # a filter over markup
    "<p>{{ first_name|e }}</p>",  # a value marked as escaped already
    "<p>{{ departments|join(', ') }}</p>",  # join makes markup under autoescape
    '<p title="{% if first_name %}{{ first_name }}{% endif %}">x</p>',  # a statement inside a tag
    # Jinja's {% raw %} makes tags text: what was cleaned as a placeholder is written out as it stands
    "<p>{{ first_name }}{% raw %}{{ '<script>alert(1)</script>' }}{% endraw %}</p>",
])
def test_a_template_outside_the_proved_shape_keeps_the_output_pass(source: str) -> None:
    compiled = build(source)
    assert compiled.sanitize_output
    for payload in ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "red; background: url(x)"):
        out = render(compiled, context_for({"first_name": payload}, custom={"c": payload})).html
        assert problems(out) == [] and "<script" not in out


def test_whitespace_control_keeps_a_template_on_the_fast_path() -> None:
    compiled = build("<p>{{- first_name -}} <b>{{ last_name }}</b>\n {%- if last_name %}!{% endif %}</p>")
    assert not compiled.sanitize_output
    out = render(compiled, context_for({"first_name": "Ada", "last_name": "<L>"})).html
    assert out == "<p>Ada<b>&lt;L&gt;</b>!</p>"


def test_a_stored_template_the_sanitizer_would_change_keeps_the_output_pass() -> None:
    """Stored HTML is cleaned again at compile time: HTML that did not come out of ``prepare`` (an old row, a
    hand-edited database) is not trusted to skip the output pass."""
    compiled = compile_template('<p onclick="x()">{{ first_name }}</p><script>alert(1)</script>')
    assert compiled.sanitize_output
    assert render(compiled, context_for({"first_name": "Ada"})).html == "<p>Ada</p>"
