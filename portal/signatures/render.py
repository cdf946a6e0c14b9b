"""Signature templates: checked and cleaned on save, compiled once, rendered safely for every employee.

How a template becomes a signature
----------------------------------
1. **On save** (``prepare``): the admin's text is parsed by Jinja (a syntax error is refused with its
   line and reason), every placeholder is checked against the palette, and the template's own HTML is
   cleaned with nh3 (ammonia) to what mail clients accept (``ALLOWED_TAGS``/``ALLOWED_ATTRIBUTES``,
   inline styles limited to ``ALLOWED_STYLE_PROPERTIES``, URLs http/https/mailto/tel and ``data:image``
   on ``<img src>`` only). Jinja tags are swapped for opaque markers while nh3 runs and put back after;
   a tag nh3 had to drop or move (one inside a tag name, or text directly inside ``<table>``/``<tr>``,
   which HTML moves out of the table) is refused with its line.
2. **Compile** (``compile_template``, cached by source): the cleaned HTML is cut into *lines* and each
   line that holds placeholders is wrapped in ``{% if p1 or p2 … %}…{% endif %}`` so that a line whose
   placeholders are all empty disappears with its labels ("Mobile: "). What a *line* is:

   - a table row ``<tr>`` whose cells hold no ``<br>`` and no block element is one line (a
     "Mobile: | {{ mobile }}" row vanishes whole);
   - otherwise, inside any element (and at the top level), the inline content between block elements
     (``p div li td th h1-h6 blockquote table tr …``) is split at ``<br>``: each piece, with its ``<br>``,
     is a line; a ``<p>``/``<div>``/``<li>``/heading whose every line vanished vanishes too;
   - a line holding a Jinja statement (``{% if %}``, ``{% for %}``) is left as written: the admin decides.

   The plain-text version is derived from the same cut (block ends and ``<br>`` become line breaks, cells
   are separated by two spaces, a link whose text is not its address gets the address in ``<…>``, an image
   its alt text), so it loses the same empty lines.
3. **Render** (``render``): Jinja's sandboxed environment with autoescaping — an employee's data is
   always escaped and cannot add markup or attributes — then nh3 once more over the result, which also
   drops any URL a placeholder filled with a scheme outside the allowed set (``javascript:``, ``data:``).
   Rendered HTML over ``MAX_HTML_CHARS`` (Outlook's limit) is refused with its size.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import nh3
from jinja2 import ChainableUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from portal.employees.fields import EMPLOYEE_FIELDS

MAX_HTML_CHARS = 30_000
MAX_TEMPLATE_CHARS = 100_000
# What one ``*`` may make: repeated text or lists up to this length, numbers up to this many bits.
MAX_PRODUCT_LENGTH = 10_000
MAX_NUMBER_BITS = 10_000
LOOP_FIELDS: frozenset[str] = frozenset({"departments"})  # the only thing a {% for %} may run over

ALLOWED_TAGS: frozenset[str] = frozenset({
    "a", "abbr", "b", "big", "blockquote", "br", "caption", "center", "col", "colgroup", "div", "em", "font",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "s", "small", "span", "strong",
    "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
_GENERIC_ATTRIBUTES = {"style", "align", "valign", "dir", "lang", "title", "width", "height", "bgcolor"}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": _GENERIC_ATTRIBUTES,
    "a": {"href"},
    "img": {"src", "alt", "border"},
    "table": {"border", "cellpadding", "cellspacing", "role"},
    "td": {"colspan", "rowspan", "nowrap"},
    "th": {"colspan", "rowspan", "nowrap", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
}
# Properties that take no url(): nothing an inline style can fetch or run.
ALLOWED_STYLE_PROPERTIES: frozenset[str] = frozenset({
    "background-color", "border", "border-bottom", "border-collapse", "border-color", "border-left",
    "border-radius", "border-right", "border-spacing", "border-style", "border-top", "border-width", "color",
    "direction", "display", "font", "font-family", "font-size", "font-style", "font-variant", "font-weight",
    "height", "letter-spacing", "line-height", "margin", "margin-bottom", "margin-left", "margin-right",
    "margin-top", "max-height", "max-width", "min-height", "min-width", "padding", "padding-bottom",
    "padding-left", "padding-right", "padding-top", "table-layout", "text-align", "text-decoration",
    "text-indent", "text-transform", "unicode-bidi", "vertical-align", "white-space", "width", "word-break",
})
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto", "tel"})
URL_ATTRIBUTES: frozenset[str] = frozenset({"href", "src"})
# Removed with everything inside them (the rest of the disallowed tags lose the tag and keep the text).
DROPPED_WITH_CONTENT: frozenset[str] = frozenset({
    "script", "style", "title", "noscript", "template", "svg", "math", "iframe", "object", "embed", "textarea",
    "select", "button", "form", "head", "applet", "frameset", "noembed", "noframes",
})
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif);base64,[a-z0-9+/=\s]*\Z", re.IGNORECASE)

BLOCK_TAGS = frozenset({
    "p", "div", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "thead", "tbody",
    "tfoot", "tr", "ul", "ol", "center", "caption", "hr", "colgroup", "col",
})
_VANISHING_BLOCKS = frozenset({"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "center"})
VOID_TAGS = frozenset({"br", "hr", "img", "col"})

# The placeholder palette: every employee field, then what is not a column.
EXTRA_PLACEHOLDERS: tuple[str, ...] = ("full_name", "departments", "photo_url")
MANAGER_FIELDS: tuple[str, ...] = tuple(
    name for name in EMPLOYEE_FIELDS if name not in {"manager_name", "manager_email"})
TOP_LEVEL_NAMES: frozenset[str] = frozenset(EMPLOYEE_FIELDS) | frozenset(EXTRA_PLACEHOLDERS) | {"custom", "manager"}


class TemplateProblem(ValueError):
    """A template that cannot be saved or rendered, said in the admin's words (``line`` when known)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"Line {line}: {message}" if line else message)
        self.message = message
        self.line = line


class _Undefined(ChainableUndefined):
    """``{{ custom.unknown_key }}`` and ``{{ manager.phone }}`` without a manager render as nothing."""

    __slots__ = ()


_TOO_LARGE = ("The template makes a value too large for a signature ({what}); repeat text at most to "
              f"{MAX_PRODUCT_LENGTH:,} characters.")


def _bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


_PRINTF_SPEC = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_FIELD = re.compile(r"\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}")


def _check_format(fmt: Any) -> None:
    """A %-format or str.format text may not pad to more than the limit ("%0200000000d", "{:>200000000}")."""
    if not isinstance(fmt, str):
        return
    widths = [g for m in _PRINTF_SPEC.finditer(fmt) for g in m.groups() if g]
    for spec in (f.split(":", 1)[1] for f in _FORMAT_FIELD.findall(fmt) if ":" in f):
        widths += ["*"] if "{" in spec else re.findall(r"\d+", spec)
    if any(w == "*" or int(w) > MAX_PRODUCT_LENGTH for w in widths):
        raise SecurityError(_TOO_LARGE.format(what="a format that pads to a large width"))


class _BoundedEnvironment(SandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` checked before they run (Jinja's intercepted operators): a tiny
    template could otherwise ask for gigabytes ("x" * 200000000) before the output limit is reached."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and not isinstance(times, bool):
                    if len(seq) * max(times, 0) > MAX_PRODUCT_LENGTH:
                        raise SecurityError(_TOO_LARGE.format(
                            what=f"{len(seq):,} × {times:,} = {len(seq) * times:,} characters"))
            if _bits(left) + _bits(right) > MAX_NUMBER_BITS:
                raise SecurityError(_TOO_LARGE.format(what="a number too large to write"))
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > MAX_NUMBER_BITS or max(_bits(left), 1) * max(right, 0) > MAX_NUMBER_BITS:
                raise SecurityError(_TOO_LARGE.format(what=f"{left} ** {right}"))
        elif operator == "%":
            _check_format(left)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Any:
        _check_format(getattr(value, "__self__", None))
        return super().wrap_str_format(value)


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = _BoundedEnvironment(autoescape=autoescape, undefined=_Undefined, keep_trailing_newline=False,
                               auto_reload=False, cache_size=0)
    for name in ("safe", "forceescape", "xmlattr", "urlize", "indent", "wordwrap", "pprint", "tojson", "attr"):
        env.filters.pop(name, None)  # nothing may mark text as markup or reach into objects
    env.globals.clear()
    center, format_ = env.filters["center"], env.filters["format"]

    def bounded_center(value: Any, width: int = 80) -> Any:
        if isinstance(width, int) and width > MAX_PRODUCT_LENGTH:
            raise SecurityError(_TOO_LARGE.format(what=f"center to {width:,} characters"))
        return center(value, width)

    def bounded_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_format(value)
        return format_(value, *args, **kwargs)

    env.filters["center"], env.filters["format"] = bounded_center, bounded_format
    return env


HTML_ENV = _environment(autoescape=True)
TEXT_ENV = _environment(autoescape=False)
# Compiles only templates _escaped_only proved safe (an admin's template cannot name its extra filter).
ESCAPED_ONLY_ENV = _environment(autoescape=True)

# --- cleaning ----------------------------------------------------------------------------------

_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_MARKER = re.compile("\ue000(\\d+)\ue001")


_CSS_STRING = re.compile(r'"[^"]*"|\'[^\']*\'')
_CSS_DANGER = re.compile(r"url\(|expression|javascript:|behavior|binding|@import|\\|&#|/\*", re.IGNORECASE)


def _safe_style(value: str) -> str:
    """Declarations whose value could fetch or run something (url(), expression(), CSS escapes) go whole;
    nh3 then keeps only the allowed properties of the rest."""
    if not _CSS_DANGER.search(value):
        return value  # the usual case, one search
    kept, start, depth = [], 0, ""
    for at, char in enumerate(value + ";"):
        if depth:
            depth = "" if char == depth else depth
        elif char in "\"'":
            depth = char
        elif char == ";":
            declaration = value[start:at]
            if declaration.strip() and not _CSS_DANGER.search(_CSS_STRING.sub("", declaration) + declaration):
                kept.append(declaration.strip())
            start = at + 1
    return "; ".join(kept)


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "style":
        return _safe_style(value) or None
    if attribute in URL_ATTRIBUTES and value.lstrip().lower().startswith("data:"):
        return value if tag == "img" and attribute == "src" and _DATA_IMAGE.match(value.strip()) else None
    return value


def _cleaner(relative_urls: bool) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_keep_attribute,
        url_schemes=set(URL_SCHEMES | {"data"}),
        url_relative="pass_through" if relative_urls else "deny",
        filter_style_properties=set(ALLOWED_STYLE_PROPERTIES),
        link_rel=None,
        strip_comments=True,
    )


# Built once: building a sanitizer costs far more than running it.
_SAVE_CLEANER = _cleaner(relative_urls=True)
_OUTPUT_CLEANER = _cleaner(relative_urls=False)


def _clean(html_text: str, *, relative_urls: bool) -> str:
    return (_SAVE_CLEANER if relative_urls else _OUTPUT_CLEANER).clean(html_text)


def clean_output(html_text: str) -> str:
    """The sanitizer as applied to rendered signatures (relative URLs dropped: they mean nothing in mail)."""
    return _clean(html_text, relative_urls=False)


@dataclass(frozen=True)
class Prepared:
    """A template ready to store: the cleaned HTML and what cleaning removed (for the admin to see)."""

    html: str
    removed: bool


def prepare(source: str, *, text: bool = False) -> Prepared:
    """Check and clean a template as typed; raises TemplateProblem (syntax, unknown placeholder, size)."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateProblem(f"The template is {len(source):,} characters long; at most {MAX_TEMPLATE_CHARS:,}.")
    env = TEXT_ENV if text else HTML_ENV
    _check_jinja(env, source)
    if text:
        return Prepared(source, False)
    tags: list[str] = []

    def mark(match: re.Match[str]) -> str:
        if match.group().startswith("{#"):
            return ""  # comments go
        tags.append(match.group())
        return f"\ue000{len(tags) - 1}\ue001"

    marked = _JINJA_TAG.sub(mark, source)
    _refuse_tags_in_tables(marked, source, tags)
    cleaned = _clean(marked, relative_urls=True)
    found = [int(n) for n in _MARKER.findall(cleaned)]
    if found != list(range(len(tags))):
        missing = next((i for i in range(len(tags)) if i not in found), found[0] if found else 0)
        raise TemplateProblem(
            f"{tags[missing]} stands where HTML allows no text (inside a tag's name or a tag that is not "
            "allowed). Put placeholders in text or inside an attribute's value, such as href=\"…\".",
            _line_of(source, tags[missing]))
    restored = _MARKER.sub(lambda m: tags[int(m.group(1))], cleaned)
    # Cleaning decodes character references: "&#123;% macro %&#125;" would come out as a Jinja tag that
    # no check above saw. What is stored holds exactly the tags that were typed and checked, or nothing.
    stored_tags = [t for t in _JINJA_TAG.findall(restored) if not t.startswith("{#")]
    if stored_tags != tags or re.search(r"\{[{%#]", _JINJA_TAG.sub("", restored)):
        raise TemplateProblem("The template writes { or } as HTML character references (such as &#123;), which "
                              "would turn into placeholder syntax. Type { and } as they are.")
    _check_jinja(env, restored)
    return Prepared(restored, _normalized(restored) != _normalized(_JINJA_TAG.sub(_keep_non_comment, source)))


def _keep_non_comment(match: re.Match[str]) -> str:
    return "" if match.group().startswith("{#") else match.group()


def _normalized(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"\s*/?>", ">", text))).strip().lower()


def _line_of(source: str, fragment: str) -> int | None:
    at = source.find(fragment)
    return source.count("\n", 0, at) + 1 if at >= 0 else None


def _check_jinja(env: SandboxedEnvironment, source: str) -> None:
    try:
        tree = env.parse(source)
        env.compile(tree)  # unknown filters and tests are found here
    except TemplateSyntaxError as error:
        raise TemplateProblem(error.message or "syntax error", error.lineno) from None
    for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport, nodes.Macro,
                               nodes.CallBlock, nodes.Block)):
        raise TemplateProblem("Signatures cannot include, extend or import other templates, or define macros "
                              "and blocks.", node.lineno)
    _check_size(env, tree)
    for name in sorted(meta.find_undeclared_variables(tree)):
        if name not in TOP_LEVEL_NAMES:
            line = next((n.lineno for n in tree.find_all(nodes.Name) if n.name == name), None)
            raise TemplateProblem(f"Unknown placeholder '{name}'. Pick one from the palette "
                                  "(employee fields, custom.<key>, manager.<field>).", line)


def _constant(env: SandboxedEnvironment, node: nodes.Node) -> Any:
    """A constant expression's value, with ``*`` and ``**`` checked by the sandbox; Impossible otherwise."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, (nodes.Mul, nodes.Pow, nodes.Mod)):
        return env.call_binop(None, node.operator, _constant(env, node.left), _constant(env, node.right))
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return [_constant(env, item) for item in node.items]
    raise nodes.Impossible()


def _check_size(env: SandboxedEnvironment, tree: nodes.Template) -> None:
    """Refuse on save what would make a render slow or huge: a product of constants over the limit, and loops
    over anything but a list field (a loop over a long string, or a loop in a loop, grows with each level)."""
    for node in tree.find_all((nodes.Mul, nodes.Pow, nodes.Mod)):
        try:
            _constant(env, node)
        except nodes.Impossible:
            continue  # depends on an employee's value: the sandbox checks it when rendering
        except SecurityError as error:
            raise TemplateProblem(str(error), node.lineno) from None
    fields = ", ".join(sorted(LOOP_FIELDS))
    for loop in tree.find_all(nodes.For):
        if not (isinstance(loop.iter, nodes.Name) and loop.iter.name in LOOP_FIELDS) or loop.recursive:
            raise TemplateProblem(f"{{% for %}} may only run over {fields} (for example "
                                  "{% for d in departments %}…{% endfor %}).", loop.lineno)
        if any(True for _ in loop.find_all(nodes.For)):
            raise TemplateProblem("A {% for %} cannot hold another {% for %}.", loop.lineno)
    for name in tree.find_all(nodes.Name):
        if name.ctx != "load" and name.name in LOOP_FIELDS:
            raise TemplateProblem(f"'{name.name}' is an employee's field and cannot be set in the template.",
                                  name.lineno)


class _TableTextFinder(HTMLParser):
    """Finds a Jinja marker standing directly in <table>, <tbody> or <tr>, where HTML moves text out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.misplaced: int | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in VOID_TAGS:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self.misplaced is None and self.stack and self.stack[-1] in {"table", "thead", "tbody", "tfoot", "tr"}:
            found = _MARKER.search(data)
            if found:
                self.misplaced = int(found.group(1))


def _refuse_tags_in_tables(marked: str, source: str, tags: list[str]) -> None:
    finder = _TableTextFinder()
    finder.feed(marked)
    finder.close()
    if finder.misplaced is not None:
        tag = tags[finder.misplaced]
        raise TemplateProblem(f"{tag} stands directly inside a table row or table, where HTML allows no text "
                              "(browsers and mail clients move it out of the table). Put it inside a cell "
                              "(<td>…</td>).", _line_of(source, tag))


# --- lines: the empty-line rule and the plain text ---------------------------------------------

_TOKEN = re.compile(r'<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:[^>"\']|"[^"]*"|\'[^\']*\')*)>|[^<]+|<', re.DOTALL)
_EXPRESSION = re.compile(r"\{\{-?(.*?)-?\}\}", re.DOTALL)
_STATEMENT = re.compile(r"\{%.*?%\}", re.DOTALL)
_HREF = re.compile(r'\bhref="([^"]*)"')
_ALT = re.compile(r'\balt="([^"]*)"')


@dataclass
class _Node:
    tag: str  # "" for text
    start: str = ""
    end: str = ""
    children: list[_Node] = field(default_factory=list)
    text: str = ""


def _parse(cleaned: str) -> _Node:
    """nh3's output as a tree (it is well formed: every tag closed, attributes double-quoted)."""
    root = _Node("#root")
    stack = [root]
    for match in _TOKEN.finditer(cleaned):
        closing, name = match.group(1), (match.group(2) or "").lower()
        if not name:
            stack[-1].children.append(_Node("", text=match.group()))
        elif closing:
            if any(node.tag == name for node in stack[1:]):
                while stack[-1].tag != name:
                    stack.pop()
                stack.pop().end = match.group()
        else:
            node = _Node(name, start=match.group())
            stack[-1].children.append(node)
            if name not in VOID_TAGS:
                stack.append(node)
    return root


def _walk_source(node: _Node) -> Iterable[str]:
    if not node.tag:
        yield node.text
        return
    yield node.start
    for child in node.children:
        yield from _walk_source(child)
    yield node.end


def _expressions(node: _Node) -> list[str]:
    return _EXPRESSION.findall("".join(_walk_source(node)))


def _has_statement(node: _Node) -> bool:
    return bool(_STATEMENT.search("".join(_walk_source(node))))


def _contains(node: _Node, tags: frozenset[str]) -> bool:
    return any(child.tag in tags or _contains(child, tags) for child in node.children if child.tag)


def _condition(expressions: list[str]) -> str:
    return " or ".join(f"({expr.strip()})" for expr in dict.fromkeys(expressions))


@dataclass
class _Line:
    """One line of output: its HTML and its text, and the placeholders that decide whether it shows."""

    html: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    expressions: list[str] = field(default_factory=list)
    statement: bool = False

    def add(self, node: _Node) -> None:
        self.html.append("".join(_walk_source(node)))
        self.text.append(_text_of(node))
        self.expressions += _expressions(node)
        self.statement = self.statement or _has_statement(node)

    def visible_text(self) -> bool:
        return bool("".join(self.text).strip()) or bool(self.expressions)


def _text_of(node: _Node) -> str:
    if not node.tag:
        return re.sub(r"\s+", " ", html.unescape(node.text))
    if node.tag == "br":
        return "\n"
    if node.tag == "img":
        alt = _ALT.search(node.start)
        return html.unescape(alt.group(1)) if alt else ""
    inner = "".join(_text_of(child) for child in node.children)
    if node.tag == "a":
        href = _HREF.search(node.start)
        target = html.unescape(href.group(1)) if href else ""
        shown = target.removeprefix("mailto:").removeprefix("tel:")
        if target and shown.strip() != inner.strip():
            inner = f"{inner} <{target}>"
    if node.tag in {"td", "th"}:
        return inner.strip() + "  "
    if node.tag in BLOCK_TAGS:
        return "\n" + inner.strip(" ") + "\n"
    return inner


def _wrap(condition: str, body: str) -> str:
    return f"{{% if {condition} %}}{body}{{% endif %}}" if condition else body


def _transform(node: _Node, html_out: list[str], text_out: list[str]) -> None:
    """Write ``node``'s children with every line that holds placeholders made conditional."""
    line = _Line()

    def flush(br: _Node | None = None) -> None:
        nonlocal line
        if br is not None:
            line.add(br)
        if line.html:
            condition = "" if line.statement else _condition(line.expressions)
            html_out.append(_wrap(condition, "".join(line.html)))
            body = re.sub(r"[ \t]+", " ", "".join(line.text))
            if condition or body.strip():
                text_out.append(_wrap(condition, body))
        line = _Line()

    for child in node.children:
        if child.tag == "br":
            flush(child)
        elif child.tag == "tr" and not _contains(child, (BLOCK_TAGS - {"td", "th"}) | {"br"}):
            flush()
            single = _Line()
            single.add(child)
            condition = "" if single.statement else _condition(single.expressions)
            html_out.append(_wrap(condition, single.html[0]))
            text_out.append(_wrap(condition, single.text[0].rstrip() + "\n"))
        elif child.tag in BLOCK_TAGS:
            flush()
            inner_html: list[str] = []
            inner_text: list[str] = []
            _transform(child, inner_html, inner_text)
            expressions = _expressions(child)
            vanish = (child.tag in _VANISHING_BLOCKS and expressions and not _has_statement(child)
                      and not _Line(text=[_text_of(c) for c in child.children if not _expressions(c)]).visible_text())
            condition = _condition(expressions) if vanish else ""
            html_out.append(_wrap(condition, child.start + "".join(inner_html) + child.end))
            separator = "  " if child.tag in {"td", "th"} else "\n"
            text_out.append(_wrap(condition, "".join(inner_text).strip(" ") + separator))
        else:
            line.add(child)
    flush()


@dataclass(frozen=True)
class Compiled:
    """A template compiled once: HTML and plain text, both with the empty-line rule built in.

    ``sanitize_output``: nh3 runs over every rendered signature. False when ``_escaped_only`` proved at compile
    time that an employee's data can only reach the HTML as escaped text or escaped attribute values (and URLs
    only through the scheme check), so the output pass could not change anything but spelling."""

    html_source: str
    text_source: str
    html: Any
    text: Any
    sanitize_output: bool = True


@functools.lru_cache(maxsize=512)
def compile_template(cleaned_html: str, text_override: str | None = None) -> Compiled:
    """Compile a stored (already cleaned) template; cached by its source, so every render reuses it."""
    html_out: list[str] = []
    text_out: list[str] = []
    _transform(_parse(cleaned_html), html_out, text_out)
    html_source = "".join(html_out)
    if text_override is not None:
        text_source = _text_lines(text_override)
    else:
        text_source = "".join(text_out)
    escaped_only = _escaped_only(cleaned_html, html_source)
    try:
        if escaped_only is not None:
            try:
                return Compiled(html_source, text_source, ESCAPED_ONLY_ENV.from_string(escaped_only),
                                TEXT_ENV.from_string(text_source), sanitize_output=False)
            except TemplateSyntaxError:
                pass  # a rebuilt URL attribute Jinja does not take: render the template as written, nh3 after
        return Compiled(html_source, text_source, HTML_ENV.from_string(html_source),
                        TEXT_ENV.from_string(text_source))
    except TemplateSyntaxError as error:
        raise TemplateProblem(error.message or "syntax error", error.lineno) from None


# --- the output pass, where it is provably a no-op ------------------------------------------------
#
# Why a template may skip nh3 on output (``_escaped_only``), each point checked at compile time:
#   1. Its HTML is what the sanitizer makes of it: cleaning the stored template again changes nothing, so every
#      tag, attribute and static URL in it is allowed, every attribute value double-quoted, no raw-text element.
#   2. Nothing in it can make a value Jinja's autoescape leaves alone (Markup): no {% autoescape %}, {% set %}…
#      {% endset %}, {% filter %}, macros, and only filters in ``_PLAIN_FILTERS`` (none of which returns Markup
#      for plain input). The context holds plain strings only (``context_for``), so every placeholder's value is
#      written through markupsafe.escape: no < > " ' and & only as the start of an entity.
#   3. Every placeholder stands in text or inside a double-quoted attribute value (an escaped value cannot leave
#      either), never in a style attribute (CSS is a language of its own), and every Jinja statement stands in
#      text, outside any tag: leaving out a part between statements leaves whole tags, so no placeholder changes
#      context when a condition is false.
#   4. A URL attribute (href, src) holding a placeholder either starts with an allowed scheme written in the
#      template ("tel:{{ phone }}": no value can change the scheme) or is rebuilt as one expression passed through
#      ``_url_attribute``, which writes the attribute only for an allowed scheme, as nh3 would have kept it.
#      A static relative URL is dropped at compile time, as the output pass would drop it.
# Anything else keeps the output pass: slower, still safe.

_URL_ATTRIBUTE_FILTER = "sigsync_url_attribute"
_PLAIN_FILTERS: frozenset[str] = frozenset({
    "abs", "capitalize", "center", "count", "d", "default", "filesizeformat", "first", "float", "format", "int",
    "last", "length", "list", "lower", "max", "min", "replace", "reverse", "round", "string", "striptags", "sum",
    "title", "trim", "truncate", "upper", "urlencode", "wordcount",
})
_MARKUP_NODES = (nodes.AssignBlock, nodes.FilterBlock, nodes.EvalContextModifier, nodes.ScopedEvalContextModifier,
                 nodes.MarkSafe, nodes.MarkSafeIfAutoescape, nodes.Macro, nodes.CallBlock, nodes.Block,
                 nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
_FIXED_SCHEME = re.compile(r"(?:https?|mailto|tel):", re.IGNORECASE)
_ATTRIBUTE = re.compile(r'\s+([^\s"\'>/=]+)(?:="([^"]*)")?')
_URL_NOISE = "".join(chr(c) for c in range(33))


def allowed_url(tag: str, attribute: str, value: str) -> str | None:
    """``value`` as a browser reads it, if the output sanitizer would keep it in ``tag``'s ``attribute``; else
    None (relative URLs mean nothing in mail; other schemes and data: URLs except inline images go)."""
    url = re.sub(r"[\t\n\r]", "", value).strip(_URL_NOISE)  # what a browser's URL parser ignores
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None
    name = scheme.group(1).lower()
    if name in URL_SCHEMES or (name == "data" and tag == "img" and attribute == "src" and _DATA_IMAGE.match(url)):
        return url
    return None


def _url_attribute(value: Any, tag: str, attribute: str) -> Markup:
    """The whole ``attribute="…"`` for a URL built from placeholders, or nothing when its scheme is not allowed."""
    url = allowed_url(tag, attribute, "" if value is None else str(value))
    return Markup(f' {attribute}="{escape(url)}"') if url else Markup("")  # attribute: a name from the code


ESCAPED_ONLY_ENV.filters[_URL_ATTRIBUTE_FILTER] = _url_attribute


def _jinja_string(text: str) -> str:
    """``text`` as a Jinja string literal (everything but letters, digits and a few signs as \\U escapes)."""
    return '"' + "".join(c if c.isascii() and (c.isalnum() or c in " :/.-_?=#%+@,;!~") else f"\\U{ord(c):08x}"
                         for c in text) + '"'


def _markup_free(source: str) -> bool:
    """Point 2: nothing in the template can produce a value autoescape would not escape."""
    try:
        tree = HTML_ENV.parse(source)
    except TemplateSyntaxError:
        return False
    if any(True for _ in tree.find_all(_MARKUP_NODES)):
        return False
    return all(f.name in _PLAIN_FILTERS for f in tree.find_all(nodes.Filter))


def _lexed_as_marked(source: str) -> bool:
    """Jinja's own lexer finds text and tags where ``_JINJA_TAG`` does (what was cleaned and checked is what
    renders): not so with {% raw %} (its tags are text to Jinja) or a '}}' inside a string literal."""
    try:
        data = [value.strip() for _, kind, value in HTML_ENV.lex(source) if kind == "data"]
    except TemplateSyntaxError:
        return False
    return [d for d in data if d] == [part.strip() for part in _JINJA_TAG.split(source) if part.strip()]


def _escaped_only(cleaned_html: str, html_source: str) -> str | None:
    """The template to render without the output pass (URL attributes rebuilt, static relative URLs dropped),
    or None when that is not provably safe (see the points above)."""
    try:
        if prepare(cleaned_html).html != cleaned_html:
            return None  # point 1
    except TemplateProblem:
        return None
    if not _markup_free(html_source) or not _lexed_as_marked(html_source):
        return None
    tags: list[str] = []

    def mark(match: re.Match[str]) -> str:
        tags.append(match.group())
        return f"\ue000{len(tags) - 1}\ue001"

    out: list[str] = []
    for token in _TOKEN.finditer(_JINJA_TAG.sub(mark, html_source)):
        name = token.group(2)
        if not name:
            if token.group() == "<":
                return None  # nh3 writes no bare "<": not its output
            out.append(token.group())
            continue
        attributes = _escaped_attributes(name.lower(), token.group(3), tags)
        if attributes is None:
            return None
        out.append(f"<{token.group(1)}{name}{attributes}>")
    return _MARKER.sub(lambda m: tags[int(m.group(1))], "".join(out))


def _escaped_attributes(tag: str, attributes: str, tags: list[str]) -> str | None:
    """Points 3 and 4 for one tag's attributes: the attributes to write, or None."""
    out, at = [], 0
    for match in _ATTRIBUTE.finditer(attributes):
        if match.start() != at:
            return None  # something between attributes (a placeholder, a stray quote): not nh3's output
        at = match.end()
        name, value = match.group(1).lower(), match.group(2)
        if _MARKER.search(name):
            return None
        markers = [int(n) for n in _MARKER.findall(value or "")]
        if not markers:
            if value is not None and name in URL_ATTRIBUTES and allowed_url(tag, name, html.unescape(value)) is None:
                continue  # a static relative URL: the output pass drops it
            out.append(match.group())
        elif name == "style" or any(not tags[n].startswith("{{") for n in markers):
            return None
        elif name not in URL_ATTRIBUTES or _FIXED_SCHEME.match(value):
            out.append(match.group())
        else:
            parts = _MARKER.split(value)  # static, marker number, static, …
            expression = " ~ ".join(
                f"({_EXPRESSION.fullmatch(tags[int(part)]).group(1).strip()})" if n % 2
                else _jinja_string(html.unescape(part)) for n, part in enumerate(parts) if n % 2 or part)
            out.append(f'{{{{ ({expression})|{_URL_ATTRIBUTE_FILTER}("{tag}", "{name}") }}}}')
    if attributes[at:].strip() not in ("", "/"):
        return None
    return "".join(out) + attributes[at:]


def _text_lines(text: str) -> str:
    """A plain-text template with the same rule: a line whose placeholders are all empty goes."""
    out = []
    for line in text.splitlines(keepends=True):
        expressions = _EXPRESSION.findall(line)
        condition = "" if _STATEMENT.search(line) else _condition(expressions)
        out.append(_wrap(condition, line if line.endswith("\n") else line + "\n"))
    return "".join(out)


# --- rendering ---------------------------------------------------------------------------------

_EDGE_BLOCKS = "p|div|td|th|li|h[1-6]|blockquote|center"
_EDGE_BR_END = re.compile(rf"(?:<br>\s*)+(</(?:{_EDGE_BLOCKS})>)")
_EDGE_BR_START = re.compile(rf"(<(?:{_EDGE_BLOCKS})(?:\s[^>]*)?>)(?:\s*<br>)+")


_SPACE_AROUND_NEWLINE = re.compile(r"[ \t]*\n[ \t]*")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str


class _Values(dict):
    """custom.* and manager.*: a mapping whose missing keys are empty."""

    def __missing__(self, key: str) -> str:
        return ""


def context_for(fields: Mapping[str, Any], *, custom: Mapping[str, Any] | None = None,
                departments: Iterable[str] = (), manager: Mapping[str, Any] | None = None,
                photo_url: str = "") -> dict[str, Any]:
    """The placeholders' values for one employee (plain strings and mappings only: nothing to call).

    ``photo_url``: the absolute address of the employee's photo (``portal.photos.signature_url``), "" for none."""
    values: dict[str, Any] = {name: _as_text(fields.get(name)) for name in EMPLOYEE_FIELDS}
    values["full_name"] = values["display_name"] or " ".join(
        part for part in (values["first_name"], values["last_name"]) if part)
    values["departments"] = ", ".join(departments)
    values["photo_url"] = _as_text(photo_url)
    values["custom"] = _Values({str(k): _as_text(v) for k, v in (custom or {}).items()})
    manager_values = _Values({name: _as_text((manager or {}).get(name)) for name in MANAGER_FIELDS})
    manager_values["display_name"] = manager_values["display_name"] or values["manager_name"]
    manager_values["email"] = manager_values["email"] or values["manager_email"]
    manager_values["full_name"] = manager_values["display_name"]
    values["manager"] = manager_values
    return values


def _as_text(value: Any) -> str:
    return "" if value is None else str(value)


def render(compiled: Compiled, context: Mapping[str, Any]) -> Rendered:
    """One employee's signature; raises TemplateProblem when the HTML exceeds Outlook's limit or the template
    asks the sandbox for a value too large."""
    try:
        raw = compiled.html.render(context)
        plain = compiled.text.render(context)
    except SecurityError as error:
        raise TemplateProblem(str(error)) from None
    out = clean_output(raw) if compiled.sanitize_output else raw
    if "<br>" in out:  # a vanished first or last line leaves its neighbour's <br> at the block's edge
        out = _EDGE_BR_END.sub(r"\1", _EDGE_BR_START.sub(r"\1", out))
    if len(out) > MAX_HTML_CHARS:
        raise TemplateProblem(f"The signature is {len(out):,} characters of HTML; mail clients accept at most "
                              f"{MAX_HTML_CHARS:,}. Make it shorter (an inline image counts in full).")
    text = _SPACE_AROUND_NEWLINE.sub("\n", plain)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    text = text.strip("\n")
    return Rendered(out, text)


def render_html(compiled: Compiled, context: Mapping[str, Any]) -> str:
    """The HTML alone (the benchmark's and the API's hot path)."""
    return render(compiled, context).html


__all__ = [
    "ALLOWED_ATTRIBUTES", "ALLOWED_STYLE_PROPERTIES", "ALLOWED_TAGS", "EXTRA_PLACEHOLDERS", "MANAGER_FIELDS",
    "MAX_HTML_CHARS", "URL_SCHEMES", "Compiled", "Prepared", "Rendered", "TemplateProblem",
    "clean_output", "compile_template", "context_for", "prepare", "render", "render_html",
]
