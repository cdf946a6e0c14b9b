"""Cleaning a template decodes character references, so placeholder syntax written as &#123; … &#125; would
become Jinja that no save-time check saw (macros, loops over anything): such templates are refused."""

from __future__ import annotations

import pytest

from portal.signatures.render import TemplateProblem, compile_template, context_for, prepare, render


@pytest.mark.parametrize("source", [
    "<p>&#123;% macro m() %&#125;x&#123;% endmacro %&#125;&#123;&#123; m() &#125;&#125;</p>",
    "<p>&#123;&#123; email &#125;&#125;</p>",
    "<p>&lbrace;{ email }}</p>",
    "<p>{{ first_name }}&#123;% for a in 'x' * 9999 %&#125;&#123;% for b in 'x' * 9999 %&#125;.&#123;% endfor %&#125;"
    "&#123;% endfor %&#125;</p>",
    '<p><a href="https://example.com/&#123;&#123; email &#125;&#125;">me</a></p>',
])
def test_placeholder_syntax_hidden_in_character_references_is_refused(source):
    with pytest.raises(TemplateProblem, match="character references"):
        prepare(source)


def test_a_lone_brace_typed_as_a_reference_stays_text():
    stored = prepare("<p>{{ email }} &#123; and &#125;</p>").html
    out = render(compile_template(stored), context_for({"email": "ada@example.com"}))
    assert out.html == "<p>ada@example.com { and }</p>"
