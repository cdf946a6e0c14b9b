"""OData query options ($select, $filter, $top, $count, $orderby, $search, $expand) as Graph checks them.

What needs the "advanced query parameters" (ConsistencyLevel: eventual plus $count=true) follows
concepts/aad-advanced-queries.md; each refusal uses the wording in graph_errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from simulator import graph_errors as errors
from simulator.graph_filter import Filter, parse_filter
from simulator.tenant_groups import GROUP_PROPERTIES
from simulator.tenant_seed import USER_PROPERTIES

MAX_TOP = 999
DEFAULT_TOP = 100
_OPTIONS = ("select", "filter", "top", "count", "orderby", "search", "expand", "skiptoken", "skip", "deltatoken")
_STRING_OPS = frozenset({"eq", "in", "startswith", "ge", "le"})
_ADVANCED_OPS = frozenset({"ne", "endswith", "null", "count"})


@dataclass(frozen=True)
class Resource:
    """What one directory type allows in queries."""

    entity: str  # as error messages name it ("User", "Group")
    properties: tuple[str, ...]
    default_select: tuple[str, ...]
    filter_default: Mapping[str, frozenset[str]]  # property -> operators that work without advanced queries
    endswith: frozenset[str]  # the only properties endsWith works on (with advanced queries)
    orderby_default: frozenset[str]
    not_in_collection: frozenset[str] = frozenset()  # $select on a list answers 501 for these
    lookup: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lookup.update({name.lower(): name for name in self.properties})


USERS = Resource(
    entity="User", properties=USER_PROPERTIES,
    default_select=("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                    "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"),
    filter_default={
        "id": frozenset({"eq", "in"}), "accountEnabled": frozenset({"eq"}), "userType": frozenset({"eq", "in"}),
        **dict.fromkeys(("displayName", "givenName", "surname", "mail", "userPrincipalName", "jobTitle",
                         "department", "city", "state", "country", "employeeId", "usageLocation", "mailNickname"),
                        _STRING_OPS),
        "creationType": frozenset({"eq", "in"}), "externalUserState": frozenset({"eq", "in"}),
        "onPremisesSyncEnabled": frozenset({"eq"}),
        **dict.fromkeys(("proxyAddresses", "otherMails", "imAddresses"), frozenset({"any", "eq", "startswith"})),
        "assignedLicenses": frozenset({"any", "eq"}), "identities": frozenset({"any", "eq"}),
    },
    endswith=frozenset({"mail", "userPrincipalName", "proxyAddresses", "otherMails"}),
    orderby_default=frozenset({"displayName", "userPrincipalName"}),
    not_in_collection=frozenset({"aboutMe", "birthday", "hireDate", "interests", "mySite", "pastProjects",
                                 "preferredName", "responsibilities", "schools", "skills", "mailboxSettings"}),
)

GROUPS = Resource(
    entity="Group", properties=GROUP_PROPERTIES, default_select=GROUP_PROPERTIES,
    filter_default={
        "id": frozenset({"eq", "in"}), **dict.fromkeys(("displayName", "mail", "mailNickname"), _STRING_OPS),
        "securityEnabled": frozenset({"eq"}), "mailEnabled": frozenset({"eq"}),
        "groupTypes": frozenset({"any", "eq"}), "proxyAddresses": frozenset({"any", "eq", "startswith"}),
        "onPremisesSyncEnabled": frozenset({"eq"}),
    },
    endswith=frozenset({"mail", "proxyAddresses"}),
    orderby_default=frozenset({"displayName"}),
)


@dataclass(frozen=True)
class Expand:
    """$expand=manager(...): the nested $select and $levels."""

    name: str
    select: tuple[str, ...] | None
    levels: int  # 1 unless $levels asked for more (max = 1000)


@dataclass
class Query:
    """The OData options of one request, validated."""

    select: tuple[str, ...] | None = None
    top: int | None = None
    filter: Filter | None = None
    count: bool = False  # @odata.count requested *and* honoured (advanced query)
    search: Callable[[dict], bool] | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)  # (property, descending)
    expand: Expand | None = None
    skiptoken: str | None = None
    eventual: bool = False  # ConsistencyLevel: eventual
    advanced: bool = False  # eventual and $count=true

    def fields(self, resource: Resource) -> tuple[str, ...]:
        """The properties to return: $select, else the type's default set."""
        return self.select or resource.default_select

    def match(self) -> Callable[[dict], bool] | None:
        """One predicate for $filter and $search together (None: everything matches)."""
        tests = [t for t in (self.filter.match if self.filter else None, self.search) if t]
        if not tests:
            return None
        return tests[0] if len(tests) == 1 else (lambda obj: all(t(obj) for t in tests))


def options(args: Mapping[str, str]) -> dict[str, str]:
    """The OData options by lower-case name without '$'; unprefixed names are refused like Graph does."""
    found = {}
    for name, value in args.items():
        lowered = name.lower()
        if lowered.startswith("$"):
            found[lowered[1:]] = value
        elif lowered in _OPTIONS:
            raise errors.unrecognized_argument(name)
    return found


def parse_query(args: Mapping[str, str], headers: Mapping[str, str], resource: Resource,
                collection: bool = True, count_segment: bool = False) -> Query:
    """Validate the options of a request against a resource, the way Graph would.

    `count_segment`: a /$count request, where the ConsistencyLevel header alone makes it advanced."""
    opts = options(args)
    eventual = headers.get("ConsistencyLevel", "").strip().lower() == "eventual"
    wants_count = opts.get("count", "").lower() == "true" or count_segment
    query = Query(eventual=eventual, advanced=eventual and wants_count, skiptoken=opts.get("skiptoken"))
    query.count = collection and query.advanced
    if "skip" in opts:
        raise errors.bad_request("'$skip' is not supported by the service.")
    if "select" in opts:
        query.select = parse_select(opts["select"], resource, collection)
    if "top" in opts:
        query.top = parse_top(opts["top"])
    if "search" in opts:
        if not eventual:
            raise errors.search_needs_eventual()
        query.search = parse_search(opts["search"], resource)
    if "filter" in opts:
        query.filter = parse_filter(opts["filter"], resource.lookup, resource.entity)
        check_filter(query.filter, resource, query.advanced)
    if "orderby" in opts:
        query.orderby = parse_orderby(opts["orderby"], resource, query)
    if "expand" in opts:
        query.expand = parse_expand(opts["expand"], resource, query)
    return query


def parse_select(text: str, resource: Resource, collection: bool) -> tuple[str, ...]:
    """$select as canonical property names, in the order asked."""
    names: list[str] = []
    for raw in text.split(","):
        raw = raw.strip()
        if not raw:
            continue
        name = resource.lookup.get(raw.lower())
        if name is None:
            raise errors.unknown_property(raw, resource.entity)
        if collection and name in resource.not_in_collection:
            raise errors.not_implemented()
        if name not in names:
            names.append(name)
    return tuple(names)


def parse_top(text: str) -> int:
    """$top as an int in 1..999."""
    try:
        top = int(text)
    except ValueError:
        raise errors.bad_request(f"Invalid page size specified: '{text}'. Must be between 1 and 999 inclusive.",
                                 "Request_UnsupportedQuery") from None
    if not 1 <= top <= MAX_TOP:
        raise errors.invalid_page_size(text)
    return top


def check_filter(parsed: Filter, resource: Resource, advanced: bool) -> None:
    """Refuse clauses Graph refuses: advanced-only operators and properties, unsupported endsWith."""
    for clause in parsed.clauses:
        if clause.prop in resource.not_in_collection or clause.prop not in resource.properties:
            raise errors.unsupported_filter_property(clause.prop, resource.entity)
        if clause.op == "endswith" and clause.prop not in resource.endswith:
            raise errors.unsupported_filter_property(clause.prop, resource.entity)
    if advanced:
        return
    if parsed.negated or any(c.op in _ADVANCED_OPS for c in parsed.clauses):
        raise errors.unsupported_query()
    for clause in parsed.clauses:
        if clause.op not in resource.filter_default.get(clause.prop, frozenset()):
            raise errors.unsupported_filter_property(clause.prop, resource.entity)


def parse_orderby(text: str, resource: Resource, query: Query) -> list[tuple[str, bool]]:
    """$orderby; beyond displayName (and userPrincipalName) alone it needs advanced queries."""
    order = []
    for part in text.split(","):
        words = part.split()
        if not words:
            continue
        name = resource.lookup.get(words[0].lower())
        if name is None:
            raise errors.unknown_property(words[0], resource.entity)
        order.append((name, len(words) > 1 and words[1].lower() == "desc"))
    if not query.advanced and (query.filter or query.search or any(n not in resource.orderby_default
                                                                    for n, _ in order)):
        raise errors.sorting_not_supported()
    return order


def parse_expand(text: str, resource: Resource, query: Query) -> Expand:
    """$expand=manager, optionally manager($select=...;$levels=n|max)."""
    found = re.fullmatch(r"\s*(\w+)\s*(?:\((.*)\))?\s*", text)
    if not found or resource is not USERS or found.group(1).lower() != "manager":
        name = found.group(1) if found else text
        raise errors.bad_request(f"Could not find a navigation property named '{name}' on type "
                                 f"'Microsoft.DirectoryServices.{resource.entity}'.")
    nested = {}
    for part in (found.group(2) or "").split(";"):
        key, _, value = part.partition("=")
        if key.strip():
            nested[key.strip().lower().lstrip("$")] = value.strip()
    select = parse_select(nested["select"], USERS, collection=False) if nested.get("select") else None
    levels = 1
    if "levels" in nested and query.eventual:  # $levels needs ConsistencyLevel: eventual (docs)
        levels = 1000 if nested["levels"].lower() == "max" else max(1, min(1000, int(nested["levels"] or 1)))
    return Expand("manager", select, levels)


def parse_search(text: str, resource: Resource) -> Callable[[dict], bool]:
    """$search="prop:term" clauses joined by AND/OR: tokenized prefix matching, like directory search."""
    clauses = re.findall(r'"([^":]+):([^"]*)"|\b(AND|OR)\b', text)
    if not clauses:
        raise errors.bad_request("Syntax error: $search must be \"property:value\" clauses.", "BadRequest")
    terms, joins = [], []
    for prop, term, join in clauses:
        if join:
            joins.append(join)
            continue
        name = resource.lookup.get(prop.strip().lower())
        if name is None:
            raise errors.unknown_property(prop, resource.entity)
        words = [w for w in re.split(r"\W+", term.casefold()) if w]
        terms.append((name, words))

    def hit(obj: dict, name: str, words: list[str]) -> bool:
        tokens = [t for t in re.split(r"\W+", str(obj.get(name) or "").casefold()) if t]
        return all(any(t.startswith(w) for t in tokens) for w in words)

    def match(obj: dict) -> bool:
        result = hit(obj, *terms[0])
        for join, term in zip(joins, terms[1:], strict=False):
            result = (result or hit(obj, *term)) if join == "OR" else (result and hit(obj, *term))
        return result

    return match
