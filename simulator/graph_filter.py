"""OData $filter for directory objects: a parser to closures, plus what each clause needs.

Supported: eq ne gt ge lt le, in (...), and/or/not, parentheses, startswith/endswith, null,
collection lambdas (`proxyAddresses/any(x:startswith(x,'smtp:'))`, `assignedLicenses/any(x:x/skuId eq
GUID)`, `groupTypes/any(c:c eq 'Unified')`), `/$count eq N`, and `a/b` paths into complex properties.
Directory string comparisons are case-insensitive, as in Entra ID.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.graph_errors import GraphError, unknown_property

Value = Callable[[dict, dict], object]

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
    | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
    | (?P<name>\$?[A-Za-z_][\w.]*)
    | (?P<punct>[(),:/])
    )""", re.VERBOSE)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}


@dataclass
class Clause:
    """One thing a filter does to one property: what decides whether Graph allows it."""

    prop: str  # canonical top-level property name
    op: str  # eq, ne, in, gt..le, startswith, endswith, any, count, null


@dataclass
class Filter:
    """A parsed $filter: the predicate and the clauses it is made of."""

    match: Callable[[dict], bool]
    clauses: list[Clause] = field(default_factory=list)
    negated: bool = False  # uses `not`
    ids: list[str] | None = None  # the whole filter is `id eq 'x'` or `id in (...)`: a direct lookup


def syntax_error(detail: str) -> GraphError:
    """400 for a filter that doesn't parse."""
    return GraphError(400, "BadRequest", f"Invalid filter clause: {detail}")


def _fold(value):
    return value.casefold() if isinstance(value, str) else value


def _compare(op: str, left, right) -> bool:
    if isinstance(left, list):  # a string collection matches when any element does
        return any(_compare(op, item, right) for item in left)
    left, right = _fold(left), _fold(right)
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]
    except TypeError:
        return False


class _Parser:
    def __init__(self, text: str, properties: dict[str, str], entity: str) -> None:
        self.text = text
        self.properties = properties  # lower-case name -> canonical name
        self.entity = entity
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.clauses: list[Clause] = []
        self.negated = False

    def _tokenize(self, text: str) -> list[tuple[str, str]]:
        tokens, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            found = _TOKEN.match(text, pos)
            if not found or found.end() == pos:
                raise syntax_error(f"Syntax error: character '{text[pos]}' is not valid at position {pos} in "
                                   f"'{text}'.")
            kind = found.lastgroup
            tokens.append((kind, found.group(kind)))
            pos = found.end()
        return tokens

    # -- token helpers ---------------------------------------------------------------------

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise syntax_error(f"Syntax error: unexpected end of expression in '{self.text}'.")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        kind, text = self.take()
        if text != value:
            raise syntax_error(f"Syntax error: expected '{value}' but found '{text}' in '{self.text}'.")

    def word(self, *words: str) -> bool:
        token = self.peek()
        if token and token[0] == "name" and token[1].lower() in words:
            self.pos += 1
            return True
        return False

    # -- grammar -------------------------------------------------------------------------------

    def parse(self) -> Callable[[dict, dict], bool]:
        expr = self.or_expr()
        if self.peek() is not None:
            raise syntax_error(f"Syntax error at position {self.pos} in '{self.text}'.")
        return expr

    def or_expr(self):
        parts = [self.and_expr()]
        while self.word("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda o, env: any(p(o, env) for p in parts))

    def and_expr(self):
        parts = [self.unary()]
        while self.word("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda o, env: all(p(o, env) for p in parts))

    def unary(self):
        if self.word("not"):
            self.negated = True
            inner = self.unary()
            return lambda o, env: not inner(o, env)
        return self.primary()

    def primary(self):
        token = self.peek()
        if token == ("punct", "("):
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        if token and token[0] == "name" and token[1].lower() in ("startswith", "endswith") \
                and self.peek(1) == ("punct", "("):
            return self.string_function()
        return self.comparison()

    def string_function(self):
        name = self.take()[1].lower()
        self.expect("(")
        subject, prop = self.operand()
        self.expect(",")
        kind, text = self.take()
        if kind != "string":
            raise syntax_error(f"{name} needs a string literal in '{self.text}'.")
        self.expect(")")
        needle = text[1:-1].replace("''", "'").casefold()
        self.clauses.append(Clause(prop.split("/")[0], name))

        def test(value) -> bool:
            if isinstance(value, list):
                return any(test(item) for item in value)
            if not isinstance(value, str):
                return False
            folded = value.casefold()
            return folded.startswith(needle) if name == "startswith" else folded.endswith(needle)

        return lambda o, env: test(subject(o, env))

    def comparison(self):
        left, prop = self.operand()
        if prop.endswith(("/any", "/all")):  # a lambda is a whole boolean clause on its own
            return left
        if self.word("in"):
            self.expect("(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.literal())
            self.expect(")")
            self.clauses.append(Clause(prop.split("/")[0], "in"))
            folded = {_fold(v) for v in values}
            return lambda o, env: _fold(left(o, env)) in folded
        token = self.take()
        op = token[1].lower()
        if token[0] != "name" or op not in _COMPARE:
            raise syntax_error(f"Syntax error: '{token[1]}' is not a comparison operator in '{self.text}'.")
        right = self.literal()
        clause_op = "null" if right is None else op
        if prop.endswith("/$count"):
            prop, clause_op = prop[: -len("/$count")], "count"
        self.clauses.append(Clause(prop.split("/")[0], clause_op))
        return lambda o, env: _compare(op, left(o, env), right)

    def literal(self):
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "guid":
            return text
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "name" and text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text.lower()]
        raise syntax_error(f"Syntax error: '{text}' is not a literal in '{self.text}'.")

    def operand(self) -> tuple[Value, str]:
        # A property path, a lambda variable path, `x/any(v:...)`, or `x/$count`.
        kind, text = self.take()
        if kind != "name":
            raise syntax_error(f"Syntax error: expected a property but found '{text}' in '{self.text}'.")
        segments = [text]
        while self.peek() == ("punct", "/"):
            self.take()
            segment = self.take()[1]
            if segment.lower() in ("any", "all") and self.peek() == ("punct", "("):
                return self.lambda_(segments, segment.lower())
            segments.append(segment)
        return self.path(segments)

    def path(self, segments: list[str]) -> tuple[Value, str]:
        variable = segments[0]
        if segments[-1] == "$count":
            getter, name = self.path(segments[:-1])
            return (lambda o, env: len(getter(o, env) or [])), f"{name}/$count"
        names = list(segments)

        def resolve(o: dict, env: dict):
            value = env[variable] if variable in env else o
            for name in names[1:] if variable in env else names:
                if not isinstance(value, dict):
                    return None
                value = value.get(name) if name in value else _lookup(value, name)
            return value

        if variable not in self._variables():
            canonical = self.properties.get(variable.lower())
            if canonical is None:
                raise unknown_property(variable, self.entity)
            names[0] = canonical
            return resolve, "/".join(names)
        return resolve, self._scope_prop

    def lambda_(self, segments: list[str], quantifier: str) -> tuple[Value, str]:
        collection, prop = self.path(segments)
        self.expect("(")
        variable = self.take()[1]
        self.expect(":")
        outer_scope = getattr(self, "_scope", ())
        self._scope, self._scope_prop = (*outer_scope, variable), prop
        body = self.or_expr()
        self._scope = outer_scope
        self.expect(")")
        self.clauses.append(Clause(prop.split("/")[0], quantifier))
        check = any if quantifier == "any" else all

        def test(o: dict, env: dict) -> bool:
            items = collection(o, env) or []
            return check(body(o, {**env, variable: item}) for item in items)

        return (lambda o, env: test(o, env)), prop + "/" + quantifier

    def _variables(self) -> tuple[str, ...]:
        return getattr(self, "_scope", ())


def _lookup(value: dict, name: str):
    lowered = name.lower()
    for key, item in value.items():
        if key.lower() == lowered:
            return item
    return None


def parse_filter(text: str, properties: dict[str, str], entity: str = "User") -> Filter:
    """Parse a $filter against a type's properties (lower-case name -> canonical name)."""
    parser = _Parser(text, properties, entity)
    expr = parser.parse()
    ids = None
    direct = re.fullmatch(r"\s*id\s+(?:eq\s+'([^']*)'|in\s*\(((?:\s*'[^']*'\s*,?)+)\))\s*", text, re.IGNORECASE)
    if direct:
        ids = [direct.group(1)] if direct.group(1) is not None else re.findall(r"'([^']*)'", direct.group(2))
    return Filter(lambda obj: bool(expr(obj, {})), parser.clauses, parser.negated, ids)
