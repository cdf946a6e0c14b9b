"""The tenant as generated: every base user is derived from its index, so nothing is stored.

Index layout: the hand-made SPECIALS first, then blocks of 100 generated users (slots 0-1 guests,
slot 2 a service account, slots 3-99 employees). Employees form one management tree (each reports
to employee (e - 1) // 8), so titles and departments follow the hierarchy. Ids and UPNs are
invertible, which is what lets a 1,000,000-user tenant answer /users/{id | upn} without an index.
"""

from __future__ import annotations

import functools
import hashlib
import random
from datetime import UTC, datetime, timedelta
from math import gcd

from simulator.tenant_names import (
    DEPARTMENT_NAMES,
    DEPARTMENTS,
    EMPLOYEE_LOCALE_WEIGHTS,
    GUEST_DOMAINS,
    LOCALES,
    OFFICES,
    SERVICE_PURPOSES,
    SKU_BUSINESS_PREMIUM,
    SKU_E3,
    SKU_E5,
    Locale,
)
from simulator.tenant_photo import identicon_jpeg
from simulator.tenant_specials import SPECIALS

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15

# Every user property Graph v1.0 knows (user resource, JSON representation), in output order.
USER_PROPERTIES = (
    "id", "aboutMe", "accountEnabled", "ageGroup", "assignedLicenses", "assignedPlans", "birthday",
    "businessPhones", "city", "companyName", "consentProvidedForMinor", "country", "createdDateTime",
    "creationType", "deletedDateTime", "department", "displayName", "employeeHireDate", "employeeId",
    "employeeOrgData", "employeeType", "externalUserState", "externalUserStateChangeDateTime", "faxNumber",
    "givenName", "hireDate", "identities", "imAddresses", "interests", "isResourceAccount", "jobTitle",
    "lastPasswordChangeDateTime", "legalAgeGroupClassification", "licenseAssignmentStates", "mail",
    "mailboxSettings", "mailNickname", "mobilePhone", "mySite", "officeLocation", "onPremisesDistinguishedName",
    "onPremisesDomainName", "onPremisesExtensionAttributes", "onPremisesImmutableId", "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors", "onPremisesSamAccountName", "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled", "onPremisesUserPrincipalName", "otherMails", "passwordPolicies", "passwordProfile",
    "pastProjects", "postalCode", "preferredDataLocation", "preferredLanguage", "preferredName",
    "provisionedPlans", "proxyAddresses", "responsibilities", "schools", "securityIdentifier",
    "showInAddressList", "signInActivity", "signInSessionsValidFromDateTime", "skills", "state",
    "streetAddress", "surname", "usageLocation", "userPrincipalName", "userType",
)
# String collections and complex collections are [] when empty, never null.
COLLECTION_PROPERTIES = frozenset({
    "assignedLicenses", "assignedPlans", "businessPhones", "identities", "imAddresses", "interests",
    "licenseAssignmentStates", "onPremisesProvisioningErrors", "otherMails", "pastProjects", "provisionedPlans",
    "proxyAddresses", "responsibilities", "schools", "skills",
})
EXTENSION_ATTRIBUTES = tuple(f"extensionAttribute{n}" for n in range(1, 16))

BLOCK = 100
GUEST_SLOTS = 2
SERVICE_SLOT = 2
FIRST_EMPLOYEE_SLOT = 3
EMPLOYEES_PER_BLOCK = BLOCK - FIRST_EMPLOYEE_SLOT
MANAGER_SPAN = 8
_DEPARTMENT_CACHE = MANAGER_SPAN ** 5  # employees whose department is cached: the top five levels
# Guest slot 0 and 1 draw from disjoint languages, so their names can never collide.
GUEST_LOCALES = (("en-US", "fr", "es", "sv"), ("de", "en-GB", "pl", "tr"))


def mix64(x: int) -> int:
    """splitmix64's finalizer: a cheap, well-spread 64-bit hash."""
    x = (x + GOLDEN) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class IdCodec:
    """Numbers <-> GUID-shaped object ids, invertible and checked (a random GUID decodes to None)."""

    _A, _B = 0xD1342543DE82EF95, 0xAF251AF3B0F025B5
    _A_INV, _B_INV = pow(_A, -1, 1 << 64), pow(_B, -1, 1 << 64)

    def __init__(self, key: int) -> None:
        self._key = key & M64
        self._check = mix64(key ^ 0xC0FFEE)

    def encode(self, n: int) -> str:
        """The object id of number n."""
        y = ((n + self._key) * self._A) & M64
        y ^= y >> 32
        y = (y * self._B) & M64
        y ^= y >> 32
        a, b = f"{y:016x}", f"{mix64(y ^ self._check):016x}"
        variant = "89ab"[int(b[3], 16) & 3]
        return f"{a[:8]}-{a[8:12]}-4{b[:3]}-{variant}{b[4:7]}-{a[12:16]}{b[7:15]}"

    def decode(self, object_id: str) -> int | None:
        """The number behind an id this codec issued, else None."""
        text = object_id.lower()
        if len(text) != 36 or text[8] != "-" or text[13] != "-" or text[18] != "-" or text[23] != "-":
            return None
        try:
            y = int(text[:8] + text[9:13] + text[24:28], 16)
        except ValueError:
            return None
        y ^= y >> 32
        y = (y * self._B_INV) & M64
        y ^= y >> 32
        n = ((y * self._A_INV) - self._key) & M64
        return n if self.encode(n) == text else None


def blank_user(user_id: str) -> dict:
    """Every user property unset: null, or [] for collections."""
    user = _BLANK.copy()
    for name in _COLLECTIONS:
        user[name] = []
    user["id"] = user_id
    user["onPremisesExtensionAttributes"] = _NO_EXTENSIONS.copy()
    return user


_BLANK = dict.fromkeys(USER_PROPERTIES)
_COLLECTIONS = tuple(sorted(COLLECTION_PROPERTIES))
_NO_EXTENSIONS = dict.fromkeys(EXTENSION_ATTRIBUTES)
_EPOCH = datetime(2016, 1, 4, 8, 0, tzinfo=UTC)


@functools.cache
def _template(template: str) -> tuple[str, int]:
    return template.replace("{", "{{").replace("}", "}}").replace("#", "{}"), template.count("#")


def _fill(template: str, h: int) -> str:
    """The template with every '#' replaced by the next decimal digit of h."""
    pattern, count = _template(template)
    return pattern.format(*f"{h:020d}"[:count])


@functools.cache
def _day(days: int) -> str:
    return (_EPOCH + timedelta(days=days)).strftime("%Y-%m-%d")


def _moment(days: int, seconds: int = 0) -> str:
    """An ISO 8601 UTC timestamp `days` and `seconds` after the company's founding."""
    hours, rest = divmod(8 * 3600 + seconds, 3600)
    extra, hours = divmod(hours, 24)
    return f"{_day(days + extra)}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def _employee_slot_table() -> tuple[tuple[str, ...], tuple[int, ...], dict[str, tuple[int, ...]]]:
    # Spread each language over the 97 employee slots (fixed, so the layout never depends on the seed).
    slots = [loc for loc, weight in EMPLOYEE_LOCALE_WEIGHTS for _ in range(weight)]
    random.Random(97).shuffle(slots)
    ranks, seen, by_locale = [], {}, {}
    for offset, loc in enumerate(slots):
        ranks.append(seen.get(loc, 0))
        seen[loc] = ranks[-1] + 1
        by_locale.setdefault(loc, []).append(offset)
    return tuple(slots), tuple(ranks), {k: tuple(v) for k, v in by_locale.items()}


EMPLOYEE_SLOT_LOCALE, EMPLOYEE_SLOT_RANK, EMPLOYEE_SLOTS_OF = _employee_slot_table()
EMPLOYEE_WEIGHT = dict(EMPLOYEE_LOCALE_WEIGHTS)
_GIVEN_INDEX = {k: {a: n for n, (_, a) in enumerate(loc.given)} for k, loc in LOCALES.items()}
_SURNAME_INDEX = {k: {a: n for n, (_, a) in enumerate(loc.surnames)} for k, loc in LOCALES.items()}


def employee_depth(e: int) -> int:
    """How far below the CEO (employee 0) employee e sits."""
    depth = 0
    while e > 0:
        e = (e - 1) // MANAGER_SPAN
        depth += 1
    return depth


class Seed:
    """Generates base users by index for one tenant (size, seed, domain)."""

    def __init__(self, size: int, seed: int, domain: str, admin_upn: str = "") -> None:
        self.size = size
        self.seed = seed
        self.domain = domain
        self.key = mix64(seed * GOLDEN + 0x5157)
        self.user_ids = IdCodec(self.key)
        self.group_ids = IdCodec(mix64(self.key + 1))
        admin_local, _, admin_domain = admin_upn.partition("@")
        self._admin_local = admin_local if admin_domain.lower() == domain.lower() and admin_local else "admin"
        self.special_count = len(SPECIALS)
        generated = max(size - self.special_count, 0)
        self.employee_count = generated // BLOCK * EMPLOYEES_PER_BLOCK + max(generated % BLOCK - FIRST_EMPLOYEE_SLOT, 0)
        self._perms: dict[tuple[str, str], tuple[int, int, int, int]] = {}
        self._departments: dict[int, str] = {}
        self._special_upns: dict[str, int] = {}
        self._specials = [self._special(i, spec) for i, spec in enumerate(SPECIALS[: min(size, len(SPECIALS))])]
        self._special_upns = {u["userPrincipalName"].lower(): i for i, u in enumerate(self._specials)}

    # -- layout ---------------------------------------------------------------------------

    def kind(self, i: int) -> str:
        """"special", "guest", "service" or "employee"."""
        if i < self.special_count:
            return "special"
        slot = (i - self.special_count) % BLOCK
        return "guest" if slot < GUEST_SLOTS else "service" if slot == SERVICE_SLOT else "employee"

    def employee_index(self, e: int) -> int:
        """The index of employee number e (0 is the CEO)."""
        block, offset = divmod(e, EMPLOYEES_PER_BLOCK)
        return self.special_count + block * BLOCK + FIRST_EMPLOYEE_SLOT + offset

    def employee_number(self, i: int) -> int:
        """The employee number of index i (which must be an employee)."""
        block, slot = divmod(i - self.special_count, BLOCK)
        return block * EMPLOYEES_PER_BLOCK + slot - FIRST_EMPLOYEE_SLOT

    def manager_index(self, i: int) -> int | None:
        """The base manager of index i, or None."""
        kind = self.kind(i)
        if kind == "special":
            boss = SPECIALS[i].get("reports_to")
            target = self.employee_index(0) if boss == "ceo" else boss
        elif kind == "employee":
            e = self.employee_number(i)
            target = self.employee_index((e - 1) // MANAGER_SPAN) if e else None
        else:
            target = None
        return target if target is not None and target < self.size else None

    def has_photo(self, i: int) -> bool:
        """Whether index i starts with a profile photo."""
        kind = self.kind(i)
        if kind == "special":
            return bool(SPECIALS[i].get("photo"))
        return kind == "employee" and self._hash(i, 7) % 100 < 45

    def photo(self, i: int) -> bytes:
        """The generated photo of index i (whether or not the user has one)."""
        return identicon_jpeg(self.key ^ i)

    # -- users ----------------------------------------------------------------------------

    def user(self, i: int) -> dict:
        """A fresh dict with every property of base user i."""
        kind = self.kind(i)
        if kind == "special":
            special = self._specials[i]
            return {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
                    for k, v in special.items()}
        g = i - self.special_count
        if kind == "guest":
            return self._guest(i, g)
        if kind == "service":
            return self._service(i, g)
        return self._employee(i, g)

    def index_of_upn(self, upn: str) -> int | None:
        """The base index whose generated UPN is upn (case-insensitive), else None."""
        text = upn.lower()
        if text in self._special_upns:
            return self._special_upns[text]
        local, at, domain = text.rpartition("@")
        if not at or domain != self.domain.lower():
            return None
        if local.endswith("#ext#"):
            candidates = self._guest_candidates(local[: -len("#ext#")])
        elif local.startswith("svc-"):
            candidates = self._service_candidates(local)
        else:
            candidates = self._employee_candidates(local)
        for i in candidates:
            if self.special_count <= i < self.size and self.user(i)["userPrincipalName"].lower() == text:
                return i
        return None

    # -- generated people -------------------------------------------------------------------

    def _hash(self, i: int, salt: int) -> int:
        return mix64(self.key ^ ((i * GOLDEN + salt * 0x2545F4914F6CDD1D) & M64))

    def _perm(self, kind: str, loc: Locale) -> tuple[int, int, int, int]:
        # A permutation of (given, surname) combinations, so neighbours don't share names.
        cached = self._perms.get((kind, loc.key))
        if cached is None:
            m = len(loc.given) * len(loc.surnames)
            salt = int.from_bytes(hashlib.blake2b(f"{kind}/{loc.key}".encode(), digest_size=8).digest(), "big")
            p = 7919 + (mix64(self.key ^ salt) % 1000) * 2
            while gcd(p, m) != 1:
                p += 2
            cached = self._perms[(kind, loc.key)] = (m, p, pow(p, -1, m), mix64(self.key ^ salt ^ m) % m)
        return cached

    def _name(self, kind: str, loc: Locale, k: int) -> tuple[tuple[str, str], tuple[str, str], int]:
        m, p, _, offset = self._perm(kind, loc)
        c = ((k % m) * p + offset) % m
        return loc.given[c % len(loc.given)], loc.surnames[c // len(loc.given)], k // m

    def _name_number(self, kind: str, loc: Locale, given: int, surname: int, repeat: int) -> int:
        m, _, p_inv, offset = self._perm(kind, loc)
        return repeat * m + ((surname * len(loc.given) + given - offset) * p_inv) % m

    def _local(self, given: str, surname: str, repeat: int, title: bool = False, guest_domain: str = "") -> str:
        # john.smith, john.smith2, ... ("1" only when the plain name belongs to a special user).
        g, s = (given.title(), surname.title()) if title else (given, surname)
        base = f"{g}.{s}"
        if repeat:
            return f"{base}{repeat + 1}"
        upn = f"{base}_{guest_domain}#EXT#@{self.domain}" if guest_domain else f"{base}@{self.domain}"
        return f"{base}1" if upn.lower() in self._special_upns else base

    def _employee(self, i: int, g: int) -> dict:
        block, slot = divmod(g, BLOCK)
        offset = slot - FIRST_EMPLOYEE_SLOT
        loc = LOCALES[EMPLOYEE_SLOT_LOCALE[offset]]
        number = block * EMPLOYEE_WEIGHT[loc.key] + EMPLOYEE_SLOT_RANK[offset]
        (given, given_a), (surname, surname_a), repeat = self._name("employee", loc, number)
        h1, h2 = self._hash(i, 1), self._hash(i, 2)
        e = block * EMPLOYEES_PER_BLOCK + offset
        office = OFFICES[loc.offices[h1 % len(loc.offices)]]
        department, title = self._position(e, h1)
        licensed = (h1 >> 8) % 100 >= 6
        has_mail = licensed or (h1 >> 8) % 100 >= 3
        upn_local = self._local(given_a, surname_a, repeat, title=(h1 >> 16) % 10 < 7)
        user = self._person(i, given, surname, loc, upn_local)
        mail = None
        if has_mail:
            mail = upn_local if (h1 >> 20) % 20 else upn_local.title()  # some mails differ in case from the UPN
            mail = f"{mail}@{self.domain}"
        user.update(
            mail=mail, department=department, jobTitle=title if (h2 % 100) >= 3 else None,
            accountEnabled=(h1 >> 24) % 100 >= 3, employeeId=f"{office.usage_location}{e:06d}",
            employeeType=("Employee", "Employee", "Employee", "Employee", "Employee", "Employee",
                          "Employee", "Employee", "Contractor", "Intern")[(h2 >> 8) % 10],
            companyName=office.company if (h2 >> 12) % 10 else None,
            preferredLanguage=office.language if (h2 >> 16) % 100 >= 15 else None,
            officeLocation=f"{office.key}-{(h2 >> 20) % 9 + 1}.{(h2 >> 24) % 40 + 1:02d}" if (h2 >> 28) % 10 else None,
            usageLocation=office.usage_location,
            onPremisesSyncEnabled=True if (h2 >> 32) % 10 < 6 else None,
        )
        if (h2 >> 36) % 100 >= 7:  # a few (remote) employees carry no address at all
            self._address(user, office)
        if (h1 >> 32) % 100 < 88:
            user["businessPhones"] = [_fill(office.phone, h2)]
        if (h1 >> 40) % 100 < 72:
            user["mobilePhone"] = _fill(office.mobile, h1)
        if (h1 >> 48) % 100 < 8:
            user["faxNumber"] = _fill(office.phone, h2 ^ h1)
        self._mailbox(user, mail, licensed, sku=(SKU_E3, SKU_E3, SKU_E5, SKU_BUSINESS_PREMIUM)[(h2 >> 40) % 4])
        self._extension_attributes(user, h2, department, office)
        user["createdDateTime"] = _moment(h1 % 3300, (h2 >> 44) % 36000)
        user["employeeHireDate"] = f"{_day(h1 % 3300)}T00:00:00Z"
        return user

    def _position(self, e: int, h: int) -> tuple[str, str]:
        # Leadership titles only for people with reports, by how high up they are.
        department, depth = self._department(e), employee_depth(e)
        if depth == 0:
            return department, "Chief Executive Officer"
        if MANAGER_SPAN * e + 1 < self.employee_count:
            if depth == 1:
                return department, f"Vice President {department}"
            if depth == 2:
                return department, f"Director {department}"
            return department, f"{('Head of', 'Team Lead')[h % 2]} {department}"
        titles = DEPARTMENTS[department.split(";")[0]]
        return department, titles[(h >> 52) % len(titles)]

    def _department(self, e: int) -> str:
        # VPs head the first departments; below them 85% stay in their manager's department.
        cached = self._departments.get(e)
        if cached is not None:
            return cached
        department = self._pick_department(e)
        if e < _DEPARTMENT_CACHE:  # the upper levels are everyone's ancestors: remember them (bounded)
            self._departments[e] = department
        return department

    def _pick_department(self, e: int) -> str:
        if e == 0:
            return "Executive Management"
        if e <= MANAGER_SPAN:
            return DEPARTMENT_NAMES[(e - 1) % len(DEPARTMENT_NAMES)]
        h = mix64(self.key ^ ((e * 0x2545F4914F6CDD1D) & M64))
        department = self._department((e - 1) // MANAGER_SPAN) if h % 100 < 85 else None
        if department is None or department == "Executive Management":
            department = DEPARTMENT_NAMES[(h >> 8) % len(DEPARTMENT_NAMES)]
        if department in ("Sales", "Marketing") and (h >> 16) % 100 < 4:
            return "Sales;Marketing"  # a multi-valued department, as some admins type them
        return department

    def _guest(self, i: int, g: int) -> dict:
        block, slot = divmod(g, BLOCK)
        locales = GUEST_LOCALES[slot]
        loc = LOCALES[locales[block % len(locales)]]
        (given, given_a), (surname, surname_a), repeat = self._name(f"guest{slot}", loc, block // len(locales))
        h = self._hash(i, 3)
        domain = GUEST_DOMAINS[h % len(GUEST_DOMAINS)]
        external = self._local(given_a, surname_a, repeat, guest_domain=domain)
        user = self._guest_user(i, given, surname, f"{given} {surname}", external, domain)
        user["companyName"] = domain.split(".")[0].title() if (h >> 8) % 10 < 4 and "." in domain else None
        user["createdDateTime"] = _moment(h % 3300, (h >> 20) % 36000)
        user["externalUserState"] = "Accepted" if (h >> 16) % 10 else "PendingAcceptance"
        return user

    def _guest_user(self, i: int, given: str | None, surname: str | None, display: str, external: str,
                    domain: str) -> dict:
        mail = f"{external}@{domain}"
        nickname = f"{external}_{domain}#EXT#"
        user = self._blank(i)
        user.update(
            givenName=given, surname=surname, displayName=display, mail=mail, mailNickname=nickname,
            userPrincipalName=f"{nickname}@{self.domain}", userType="Guest", accountEnabled=True,
            creationType="Invitation", otherMails=[mail], proxyAddresses=[f"SMTP:{mail}"],
            externalUserState="Accepted", externalUserStateChangeDateTime=_moment(0),
        )
        user["identities"] = [{"signInType": "userPrincipalName", "issuer": self.domain,
                               "issuerAssignedId": user["userPrincipalName"]}]
        return user

    def _service(self, i: int, g: int) -> dict:
        block = g // BLOCK
        h = self._hash(i, 4)
        purpose = SERVICE_PURPOSES[h % len(SERVICE_PURPOSES)]
        name = f"svc-{purpose}-{block:04d}"
        user = self._blank(i)
        upn = f"{name}@{self.domain}"
        user.update(displayName=name, userPrincipalName=upn, mailNickname=name, accountEnabled=True,
                    userType="Member", createdDateTime=_moment(h % 3300))
        if (h >> 8) % 10 < 4:
            user["mail"] = upn
            user["proxyAddresses"] = [f"SMTP:{upn}"]
        user["identities"] = [{"signInType": "userPrincipalName", "issuer": self.domain, "issuerAssignedId": upn}]
        return user

    # -- the hand-made users ------------------------------------------------------------------

    def _special(self, i: int, spec: dict) -> dict:
        if "guest" in spec:
            display = f"{spec['given']} {spec['surname']}"
            user = self._guest_user(i, spec["given"], spec["surname"], display, spec["local"], spec["guest"])
            user["companyName"] = spec.get("company")
            user["createdDateTime"] = _moment(400 + i)
            return user
        local = self._admin_local if i == 0 else spec["upn"]
        user = self._person(i, spec["given"], spec["surname"], None, local, spec.get("display"))
        h = self._hash(i, 5)
        office = OFFICES.get(spec.get("office") or "")
        mail = spec.get("mail", "@")
        if mail is not None and mail.endswith("@^"):
            mail = mail[:-1] + self.domain.upper()
        elif mail is not None and mail.endswith("@"):
            mail = (mail if mail != "@" else f"{local}@") + self.domain
        user.update(
            mail=mail, department=spec.get("department"), jobTitle=spec.get("job"),
            accountEnabled=spec.get("enabled", True),
            employeeType=spec.get("employee_type", "Employee"),
            employeeId=f"{office.usage_location if office else 'US'}9{i:05d}" if spec.get("employee_id", True)
            else None,
            companyName=spec.get("company") or (office.company if office else None),
            preferredLanguage=spec.get("preferred_language", office.language if office else None),
            officeLocation=f"{office.key}-1.{i:02d}" if office else None,
            usageLocation=office.usage_location if office else "US",
        )
        if office:
            self._address(user, office)
            if spec.get("phone", True):
                user["businessPhones"] = [_fill(office.phone, h)]
            if spec.get("mobile"):
                user["mobilePhone"] = _fill(office.mobile, h >> 3)
            if spec.get("fax"):
                user["faxNumber"] = _fill(office.phone, h >> 5)
        elif spec.get("phone"):
            user["businessPhones"] = ["+1 425 555 0100"]
            user["mobilePhone"] = "+1 425 555 0101" if spec.get("mobile") else None
        self._mailbox(user, mail, spec.get("sku", SKU_E3) is not None, spec.get("sku", SKU_E3))
        for n, value in spec.get("ext", {}).items():
            user["onPremisesExtensionAttributes"][f"extensionAttribute{n}"] = value
        user["createdDateTime"] = _moment(30 * i)
        user["employeeHireDate"] = f"{_day(30 * i)}T00:00:00Z" if spec.get("given") else None
        return user

    # -- shared pieces ------------------------------------------------------------------------

    def _blank(self, i: int) -> dict:
        return blank_user(self.user_ids.encode(i))

    def _person(self, i: int, given: str | None, surname: str | None, loc: Locale | None, local: str,
                display: str | None = None) -> dict:
        user = self._blank(i)
        if display is None:
            family_first = loc is not None and loc.family_first
            parts = (surname, given) if family_first else (given, surname)
            display = ("" if loc is not None and loc.key == "zh" else " ").join(p for p in parts if p)
        upn = f"{local}@{self.domain}"
        user.update(givenName=given, surname=surname, displayName=display, userPrincipalName=upn,
                    mailNickname=local.replace("'", ""), userType="Member")
        user["identities"] = [{"signInType": "userPrincipalName", "issuer": self.domain, "issuerAssignedId": upn}]
        return user

    @staticmethod
    def _address(user: dict, office) -> None:
        user.update(streetAddress=office.street, postalCode=office.postal_code, city=office.city,
                    state=office.state, country=office.country)

    def _mailbox(self, user: dict, mail: str | None, licensed: bool, sku: str | None) -> None:
        if licensed and sku:
            user["assignedLicenses"] = [{"disabledPlans": [], "skuId": sku}]
            user["imAddresses"] = [f"sip:{user['userPrincipalName'].lower()}"]
        if mail:
            tenant_name = self.domain.split(".")[0]
            alias = f"{user['mailNickname'].lower()}@{tenant_name}.onmicrosoft.com"
            user["proxyAddresses"] = [f"SMTP:{mail}", f"smtp:{alias}"]

    @staticmethod
    def _extension_attributes(user: dict, h: int, department: str, office) -> None:
        attributes = user["onPremisesExtensionAttributes"]
        if (h >> 48) % 100 < 60:  # a cost centre per department
            number = DEPARTMENT_NAMES.index(department.split(";")[0]) + 1 if ";" in department or \
                department in DEPARTMENTS else 0
            attributes["extensionAttribute1"] = f"CC-{number:02d}{(h >> 50) % 90 + 10}"
        if (h >> 52) % 100 < 12:
            attributes["extensionAttribute2"] = ("she/her", "he/him", "they/them")[(h >> 56) % 3]
        if (h >> 54) % 100 < 30:
            attributes["extensionAttribute10"] = office.company

    # -- inverting UPNs -------------------------------------------------------------------------

    def _split_name(self, local: str) -> tuple[str, str, int] | None:
        given, dot, rest = local.partition(".")
        surname = rest.rstrip("0123456789")
        if not dot or not surname:
            return None
        digits = rest[len(surname):]
        repeat = int(digits) - 1 if digits and digits != "1" else 0
        return given, surname, repeat

    def _employee_candidates(self, local: str) -> list[int]:
        parts = self._split_name(local)
        if parts is None:
            return []
        given, surname, repeat = parts
        found = []
        for key, slots in EMPLOYEE_SLOTS_OF.items():
            gi, si = _GIVEN_INDEX[key].get(given), _SURNAME_INDEX[key].get(surname)
            if gi is None or si is None:
                continue
            number = self._name_number("employee", LOCALES[key], gi, si, repeat)
            block, rank = divmod(number, EMPLOYEE_WEIGHT[key])
            found.append(self.special_count + block * BLOCK + FIRST_EMPLOYEE_SLOT + slots[rank])
        return found

    def _guest_candidates(self, nickname: str) -> list[int]:
        external, _, _domain = nickname.rpartition("_")
        parts = self._split_name(external)
        if parts is None:
            return []
        given, surname, repeat = parts
        found = []
        for slot, locales in enumerate(GUEST_LOCALES):
            for position, key in enumerate(locales):
                gi, si = _GIVEN_INDEX[key].get(given), _SURNAME_INDEX[key].get(surname)
                if gi is not None and si is not None:
                    number = self._name_number(f"guest{slot}", LOCALES[key], gi, si, repeat)
                    found.append(self.special_count + (number * len(locales) + position) * BLOCK + slot)
        return found

    def _service_candidates(self, local: str) -> list[int]:
        number = local.rpartition("-")[2]
        return [self.special_count + int(number) * BLOCK + SERVICE_SLOT] if number.isdigit() else []
