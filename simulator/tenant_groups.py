"""The tenant's groups: a few dozen at most, so they are plain objects (unlike users).

Generated members come from a rule over the *base* user (assigned groups don't move when a
department is edited later); explicit adds and removals are kept on top of the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Properties Graph returns for a group without $select (group-list-response.json, in that order).
GROUP_PROPERTIES = (
    "id", "deletedDateTime", "classification", "createdDateTime", "description", "displayName",
    "expirationDateTime", "groupTypes", "isAssignableToRole", "mail", "mailEnabled", "mailNickname",
    "membershipRule", "membershipRuleProcessingState", "onPremisesLastSyncDateTime",
    "onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "preferredDataLocation", "preferredLanguage",
    "proxyAddresses", "renewedDateTime", "resourceBehaviorOptions", "resourceProvisioningOptions",
    "securityEnabled", "theme", "visibility", "onPremisesProvisioningErrors",
)
GROUP_COLLECTIONS = frozenset({"groupTypes", "proxyAddresses", "resourceBehaviorOptions",
                               "resourceProvisioningOptions", "onPremisesProvisioningErrors"})

Rule = Callable[[dict], bool]


@dataclass
class Group:
    """One group: its Graph properties and how its members are decided."""

    data: dict
    rule: Rule | None = None  # generated user members: a predicate over the base user
    groups: list[str] = field(default_factory=list)  # nested member groups, in insertion order
    added: dict[str, None] = field(default_factory=dict)  # explicit user members (an ordered set)
    removed: set[str] = field(default_factory=set)  # generated members taken out again

    @property
    def id(self) -> str:
        """The group's object id."""
        return self.data["id"]


def group_data(group_id: str, display_name: str, *, domain: str, created: str, description: str | None = None,
               unified: bool = False, mail_enabled: bool = False, security_enabled: bool = True,
               nickname: str | None = None) -> dict:
    """A group's full property dict, shaped like Microsoft's sample."""
    data = dict.fromkeys(GROUP_PROPERTIES)
    for name in GROUP_COLLECTIONS:
        data[name] = []
    nickname = nickname or "".join(c for c in display_name.lower() if c.isalnum())[:64]
    data.update(id=group_id, createdDateTime=created, renewedDateTime=created, description=description,
                displayName=display_name, groupTypes=["Unified"] if unified else [], mailEnabled=mail_enabled,
                mailNickname=nickname, securityEnabled=security_enabled,
                visibility="Public" if unified else None)
    if mail_enabled:
        data["mail"] = f"{nickname}@{domain}"
        tenant_name = domain.split(".")[0]
        data["proxyAddresses"] = [f"smtp:{nickname}@{tenant_name}.onmicrosoft.com", f"SMTP:{nickname}@{domain}"]
    return data


def _department(name: str) -> Rule:
    return lambda u: name in (u["department"] or "").split(";")


def _countries(*names: str) -> Rule:
    return lambda u: u["userType"] == "Member" and u["country"] in names


DEPARTMENT_GROUPS = ("Sales", "Marketing", "Engineering", "Finance", "Human Resources", "Legal",
                     "Customer Success", "IT", "Operations", "Research & Development")
EMEA = ("United Kingdom", "France", "Spain", "Poland", "Sweden", "Latvia", "Türkiye", "Greece")


def seed_groups(ids: Callable[[int], str], domain: str, user_id: Callable[[int], str], size: int,
                first_employees: list[int]) -> list[Group]:
    """The generated groups: all-company, departments, a nested signature chain, lists and teams."""
    made: list[Group] = []

    def add(name: str, rule: Rule | None = None, **kwargs) -> Group:
        created = f"2019-{len(made) % 12 + 1:02d}-{len(made) % 27 + 1:02d}T09:30:00Z"
        group = Group(group_data(ids(len(made)), name, domain=domain, created=created, **kwargs), rule)
        made.append(group)
        return group

    add("All Employees", lambda u: u["userType"] == "Member" and u["department"] is not None,
        description="Everyone at Contoso", unified=True, mail_enabled=True, security_enabled=False,
        nickname="allemployees")
    for name in DEPARTMENT_GROUPS:
        add(f"Dept - {name}", _department(name), description=f"Members of the {name} department")
    everyone = add("Signature - All Offices", description="Every office that gets the corporate signature")
    emea = add("Signature - EMEA", _countries(*EMEA), description="Europe, Middle East and Africa")
    americas = add("Signature - Americas", _countries("United States"))
    apac = add("Signature - APAC", _countries("China", "Japan"))
    dach = add("Signature - DACH", _countries("Germany", "Austria", "Switzerland"))
    everyone.groups += [emea.id, americas.id, apac.id]
    emea.groups.append(dach.id)  # All Offices > EMEA > DACH > users: a three-level chain
    newsletter = add("Marketing Newsletter", _department("Marketing"), description="Monthly marketing news",
                     mail_enabled=True, security_enabled=False, nickname="marketing-newsletter")
    falcon = add("Project Falcon", None, description="Project Falcon team", unified=True, mail_enabled=True,
                 security_enabled=False, nickname="falcon")
    leadership = add("Sales Leadership", None, description="Sales leadership team", mail_enabled=True,
                     nickname="sales-leadership")
    add("Signature Pilot", None, description="Pilot users for the new signature (empty until someone joins)")
    add("External Guests", lambda u: u["userType"] == "Guest", description="Every B2B guest")
    for index in (10,):  # a guest on the newsletter
        if index < size:
            newsletter.added[user_id(index)] = None
    for index in [1, 3, 4, 5, *first_employees[:6]]:
        if index < size:
            falcon.added[user_id(index)] = None
    for index in (1, 12, 21):
        if index < size:
            leadership.added[user_id(index)] = None
    return made
