"""Checks rendered signatures with an HTML parser: nothing outside the allowed set, never by eye."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from portal.signatures.render import ALLOWED_ATTRIBUTES, ALLOWED_STYLE_PROPERTIES, ALLOWED_TAGS, URL_SCHEMES

_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif);base64,", re.IGNORECASE)


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"element <{tag}>")
        allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, set())
        for name, value in attrs:
            value = value or ""
            if name not in allowed:
                self.problems.append(f"attribute {name} on <{tag}>")
            if name in {"href", "src"}:
                scheme = re.match(r"([a-z][a-z0-9+.-]*):", value.strip().lower())
                if scheme is None:
                    self.problems.append(f"relative or schemeless URL {value!r}")
                elif scheme.group(1) == "data":
                    if not (tag == "img" and name == "src" and _DATA_IMAGE.match(value.strip())):
                        self.problems.append(f"data URL {value[:40]!r} on <{tag} {name}>")
                elif scheme.group(1) not in URL_SCHEMES:
                    self.problems.append(f"URL scheme {scheme.group(1)!r}")
            if name == "style":
                # quoted strings are one CSS token: a ';' inside one does not end the declaration
                for declaration in re.sub(r'"[^"]*"|\'[^\']*\'', '""', value).split(";"):
                    prop = declaration.partition(":")[0].strip().lower()
                    if prop and prop not in ALLOWED_STYLE_PROPERTIES:
                        self.problems.append(f"style property {prop!r}")
                    if "url(" in declaration.lower() or "expression(" in declaration.lower():
                        self.problems.append(f"style value {declaration!r}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"end tag </{tag}>")

    def handle_comment(self, data: str) -> None:
        self.problems.append("comment")

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"declaration {decl!r}")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"processing instruction {data!r}")

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"declaration {data!r}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def problems(html: str) -> list[str]:
    """Everything in ``html`` outside the allowed elements, attributes, URL schemes and style properties."""
    checker = _Checker()
    checker.feed(html)
    checker.close()
    return checker.problems


def text_of(html: str) -> str:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    return "".join(checker.text)
