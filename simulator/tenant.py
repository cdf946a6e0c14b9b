"""The simulated directory: users, groups, manager links, photos, and the change log delta reads.

Users are generated from their index on demand (simulator/tenant_seed.py); only changes are stored,
in overlays, so memory grows with the number of changes, not with the tenant (1,000,000 users fit).
Every tracked mutation takes the next number of one tenant-wide change sequence and stamps it on the
object and on each property it touched: a delta token is then just a sequence number. (Photos are
not tracked: Graph's delta doesn't track them either.)
"""

from __future__ import annotations

import bisect
import copy
import random
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from simulator.state import SimulatorSettings
from simulator.tenant_groups import Group, group_data, seed_groups
from simulator.tenant_seed import USER_PROPERTIES, Seed, blank_user

Match = Callable[[dict], bool]


@dataclass
class Track:
    """When an object last changed: overall, per property, and its life (create/delete/restore)."""

    seq: int = 0
    created: int = 0
    life: int = 0
    props: dict[str, int] = field(default_factory=dict)
    members: dict[str, tuple[int, bool, str]] = field(default_factory=dict)  # groups: id -> (seq, in?, kind)


@dataclass(frozen=True)
class Change:
    """One object that changed after a delta token's sequence number."""

    id: str
    state: str  # "active", "soft" (restorable, @removed changed) or "hard" (@removed deleted)
    fresh: bool  # created or restored since: send the whole object
    changed: frozenset[str]  # properties changed since
    members: tuple[tuple[str, str, bool], ...] = ()  # groups: (member id, "user"/"group", still a member?)


@dataclass(frozen=True)
class MemberRef:
    """A member in a listing: a user or a group, with its current properties."""

    kind: str  # "user" or "group"
    data: dict


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Tenant:
    """Thread-safe directory data for one simulated tenant."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self.epoch = secrets.randbits(31)  # tokens from another server run are unknown here
        self.reset()

    def reset(self) -> None:
        """Back to the generated tenant; every delta token issued before becomes unknown."""
        with self._lock:
            s = self.settings
            self.seed = Seed(s.users, s.seed, s.tenant_domain, getattr(s, "admin_upn", ""))
            self.size = s.users
            self.epoch += 1
            self._overlay: dict[int, dict] = {}  # base index -> changed properties
            self._added: dict[str, dict] = {}  # users created later, by id
            self._added_order: list[str] = []  # their ids by position - size
            self._positions: dict[str, int] = {}
            self._state: dict[str, str] = {}  # id -> "soft" | "hard" (absent: active)
            self._managers: dict[str, str | None] = {}  # overrides of the generated hierarchy
            self._photos: dict[str, bytes | None] = {}
            self._upns: dict[str, str] = {}  # lower-case UPN -> id, for added and renamed users
            self._ids = random.Random(f"{s.seed}/{self.epoch}")
            employees = [self.seed.employee_index(e) for e in range(6)]
            groups = seed_groups(self.seed.group_ids.encode, s.tenant_domain, self.seed.user_ids.encode,
                                 self.size, employees)
            self._groups: dict[str, Group] = {g.id: g for g in groups}
            self._seq = 0
            self._logs: dict[str, list[tuple[int, str]]] = {"users": [], "groups": []}  # (seq, id) per change
            self._tracks: dict[str, Track] = {}

    # -- users: reads --------------------------------------------------------------------

    def get_user(self, key: str) -> dict | None:
        """An active user by id or userPrincipalName (case-insensitive), else None."""
        with self._lock:
            found = self._locate(key)
            if found is None or found[0] in self._state:
                return None
            return self._materialize(*found)

    def user_state(self, key: str) -> str | None:
        """"active", "soft", "hard", or None for an unknown id/UPN."""
        with self._lock:
            found = self._locate(key)
            return None if found is None else self._state.get(found[0], "active")

    def users_page(self, start: int, limit: int, match: Match | None = None) -> tuple[list[dict], int | None]:
        """Up to `limit` active users from position `start` on, and where the next page starts (or None)."""
        with self._lock:
            out, pos, end = [], start, self._end()
            while pos < end:
                uid = self._id_at(pos) if self._state or pos >= self.size else None
                if uid is None or uid not in self._state:
                    user = self._materialize(uid, pos if pos < self.size else None)
                    if match is None or match(user):
                        if len(out) == limit:
                            return out, pos
                        out.append(user)
                pos += 1
            return out, None

    def users_by_ids(self, ids: Iterable[str]) -> list[dict]:
        """The active users among these ids (or UPNs), in directory order."""
        with self._lock:
            found = {}
            for key in ids:
                located = self._locate(key)
                if located and located[0] not in self._state:
                    found[self._position(located[0])] = self._materialize(*located)
            return [found[pos] for pos in sorted(found)]

    def count_users(self, match: Match | None = None) -> int:
        """How many active users there are (matching `match`, when given)."""
        with self._lock:
            if match is None:
                return self._end() - len(self._state)
        total, pos = 0, 0
        while pos is not None:
            page, pos = self.users_page(pos, 5000, match)
            total += len(page)
        return total

    def manager_of(self, key: str) -> dict | None:
        """The user's active manager, or None (no manager, or the manager is deleted)."""
        with self._lock:
            found = self._locate(key)
            if found is None:
                return None
            manager_id = self._manager_id(found[0])
            return self.get_user(manager_id) if manager_id else None

    def reports_of(self, key: str) -> list[dict]:
        """The active users whose manager is this user, in directory order (none while it is deleted).

        A scan of the directory by id (users are materialized only when they report to it): Graph keeps a
        reverse link, the simulator's generated hierarchy has none, and this is read only for a few users.
        """
        with self._lock:
            found = self._locate(key)
            if found is None or found[0] in self._state:
                return []
            boss = found[0]
            out = []
            for pos in range(self._end()):
                uid = self._id_at(pos)
                if uid not in self._state and self._manager_id(uid) == boss:
                    out.append(self._materialize(uid, pos if pos < self.size else None))
            return out

    def photo(self, key: str) -> bytes | None:
        """The user's photo (JPEG bytes), or None when they have none."""
        with self._lock:
            found = self._locate(key)
            if found is None:
                return None
            uid, index = found
            if uid in self._photos:
                return self._photos[uid]
            return self.seed.photo(index) if index is not None and self.seed.has_photo(index) else None

    @staticmethod
    def photo_etag(data: bytes) -> str:
        """An ETag like Microsoft's ("BA09D118"): a checksum of the bytes."""
        return f"{zlib.crc32(data):08X}"

    # -- groups: reads ---------------------------------------------------------------------

    def get_group(self, group_id: str) -> dict | None:
        """A group's properties by id, else None."""
        with self._lock:
            group = self._groups.get(group_id.lower())
            return copy.deepcopy(group.data) if group else None

    def groups_page(self, start: int, limit: int, match: Match | None = None) -> tuple[list[dict], int | None]:
        """Up to `limit` groups from position `start` on, and the next position (or None)."""
        with self._lock:
            groups = list(self._groups.values())
        out = []
        for pos in range(start, len(groups)):
            data = copy.deepcopy(groups[pos].data)
            if match is None or match(data):
                if len(out) == limit:
                    return out, pos
                out.append(data)
        return out, None

    def members_page(self, group_id: str, start: int, limit: int, transitive: bool = False,
                     kinds: tuple[str, ...] = ("user", "group"),
                     match: Match | None = None) -> tuple[list[MemberRef], int | None] | None:
        """A page of a group's members (nested groups first, then users); None for an unknown group."""
        with self._lock:
            group = self._groups.get(group_id.lower())
            if group is None:
                return None
            nested = self._descendants(group) if transitive else [self._groups[g] for g in group.groups]
            deciding = [group, *nested] if transitive else [group]
            out: list[MemberRef] = []
            if "group" in kinds:
                for pos in range(start, len(nested)):
                    if match is not None and not match(nested[pos].data):
                        continue
                    if len(out) == limit:
                        return out, pos
                    out.append(MemberRef("group", copy.deepcopy(nested[pos].data)))
            if "user" not in kinds:
                return out, None
            offset = len(nested)
            for pos in self._member_positions(deciding, max(start - offset, 0)):
                uid, index = self._id_at(pos), pos if pos < self.size else None
                if uid in self._state or not self._is_member(deciding, uid, index):
                    continue
                user = self._materialize(uid, index)
                if match is not None and not match(user):
                    continue
                if len(out) == limit:
                    return out, pos + offset
                out.append(MemberRef("user", user))
            return out, None

    def member_of(self, key: str, transitive: bool = False) -> list[dict] | None:
        """The groups a user or group belongs to (directly, or also through nesting); None if unknown."""
        with self._lock:
            ids = self._member_of_ids(key, transitive)
            return None if ids is None else [copy.deepcopy(self._groups[g].data) for g in ids]

    def check_member_groups(self, key: str, group_ids: Iterable[str]) -> list[str] | None:
        """Which of these groups the object is a member of, nesting included; None if unknown."""
        with self._lock:
            ids = self._member_of_ids(key, transitive=True)
            if ids is None:
                return None
            return [g for g in group_ids if g.lower() in ids]

    # -- users: changes ----------------------------------------------------------------------

    def add_user(self, data: dict) -> str:
        """Create a user from Graph properties (userPrincipalName and displayName required); returns its id."""
        with self._lock:
            unknown = set(data) - set(USER_PROPERTIES)
            upn = data.get("userPrincipalName")
            if unknown or not upn or not data.get("displayName"):
                raise ValueError(f"need userPrincipalName and displayName; unknown properties: {sorted(unknown)}")
            if self._locate(upn) is not None:
                raise ValueError(f"userPrincipalName {upn} is already taken")
            uid = str(data.get("id") or self._new_id())
            user = blank_user(uid)
            local = upn.partition("@")[0]
            user.update(accountEnabled=True, userType="Member", mailNickname=local, createdDateTime=_iso_now(),
                        identities=[{"signInType": "userPrincipalName", "issuer": self.settings.tenant_domain,
                                     "issuerAssignedId": upn}])
            if data.get("mail"):
                user["proxyAddresses"] = [f"SMTP:{data['mail']}"]
            user.update(copy.deepcopy({k: v for k, v in data.items() if k != "id"}))
            self._added[uid] = user
            self._positions[uid] = self._end()
            self._added_order.append(uid)
            self._upns[upn.lower()] = uid
            self._touch(uid, created=True)
            return uid

    def update_user(self, key: str, **changes) -> None:
        """Change properties of an active user (Graph property names); only real changes are tracked."""
        with self._lock:
            uid, index = self._require_active(key)
            unknown = set(changes) - set(USER_PROPERTIES) - {"manager"}
            if unknown or "id" in changes:
                raise ValueError(f"unknown or read-only properties: {sorted(unknown | ({'id'} & set(changes)))}")
            if "manager" in changes:
                self.set_manager(uid, changes.pop("manager"))
            current = self._materialize(uid, index)
            changed = {k: copy.deepcopy(v) for k, v in changes.items() if current.get(k) != v}
            if not changed:
                return
            new_upn = changed.get("userPrincipalName")
            if new_upn:
                owner = self._locate(new_upn)
                if owner is not None and owner[0] != uid:
                    raise ValueError(f"userPrincipalName {new_upn} is already taken")
                self._upns.pop(current["userPrincipalName"].lower(), None)
                self._upns[new_upn.lower()] = uid
            if index is None:
                self._added[uid].update(changed)
            else:
                self._overlay.setdefault(index, {}).update(changed)
            self._touch(uid, props=changed)

    def rename_address(self, key: str, mail: str | None = None, upn: str | None = None) -> None:
        """Give a user a new primary address; the old one stays as a secondary proxy address."""
        with self._lock:
            uid, index = self._require_active(key)
            user = self._materialize(uid, index)
            changes: dict = {}
            if upn:
                changes["userPrincipalName"] = upn
                changes["identities"] = [dict(i, issuerAssignedId=upn) if i.get("signInType") == "userPrincipalName"
                                         else i for i in user["identities"]]
            if mail:
                old = [p for p in user["proxyAddresses"] if p.lower() != f"smtp:{mail.lower()}"]
                demoted = [("smtp:" + p[5:]) if p.startswith("SMTP:") else p for p in old]
                changes.update(mail=mail, proxyAddresses=[f"SMTP:{mail}", *demoted])
            self.update_user(uid, **changes)

    def soft_delete(self, key: str) -> None:
        """Delete a user into deletedItems (restorable): delta reports @removed "changed"."""
        with self._lock:
            uid, index = self._require_active(key)
            self._state[uid] = "soft"
            self._set(uid, index, "deletedDateTime", _iso_now())
            self._touch(uid, life=True)

    def restore(self, key: str) -> None:
        """Bring a soft-deleted user back; delta sends it again in full."""
        with self._lock:
            found = self._locate(key)
            if found is None or self._state.get(found[0]) != "soft":
                raise LookupError(f"no soft-deleted user {key}")
            uid, index = found
            del self._state[uid]
            self._set(uid, index, "deletedDateTime", None)
            self._touch(uid, life=True)

    def hard_delete(self, key: str) -> None:
        """Delete a user for good (active or soft-deleted): delta reports @removed "deleted"."""
        with self._lock:
            found = self._locate(key)
            if found is None or self._state.get(found[0]) == "hard":
                raise LookupError(f"no user {key}")
            uid, index = found
            # A permanently deleted user leaves its groups (a soft-deleted one keeps them, as in Entra).
            left = [g for g in self._groups.values() if self._is_member([g], uid, index)]
            self._state[uid] = "hard"
            for group in left:
                group.added.pop(uid, None)
                self._touch(group.id, kind="groups", members={uid: (False, "user")})
            self._touch(uid, life=True)

    def set_manager(self, key: str, manager_key: str | None) -> None:
        """Point a user at a new manager (or none)."""
        with self._lock:
            uid, _ = self._require_active(key)
            manager_id = self._require_active(manager_key)[0] if manager_key else None
            if manager_id == uid:
                raise ValueError("a user cannot be their own manager")
            if self._manager_id(uid) != manager_id:
                self._managers[uid] = manager_id
                self._touch(uid, props=("manager",))

    def set_photo(self, key: str, data: bytes | None) -> None:
        """Upload (bytes) or remove (None) a user's photo; like Graph, delta doesn't track photos."""
        with self._lock:
            uid, _ = self._require_active(key)
            self._photos[uid] = data

    # -- groups: changes ---------------------------------------------------------------------

    def create_group(self, display_name: str, *, mail_enabled: bool = False, security_enabled: bool = True,
                     unified: bool = False, description: str | None = None, nickname: str | None = None,
                     members: Iterable[str] = ()) -> str:
        """A new group with explicit members (users or groups); returns its id."""
        with self._lock:
            gid = self._new_id()
            data = group_data(gid, display_name, domain=self.settings.tenant_domain, created=_iso_now(),
                              description=description, unified=unified, mail_enabled=mail_enabled,
                              security_enabled=security_enabled, nickname=nickname)
            self._groups[gid] = Group(data)
            self._touch(gid, kind="groups", created=True)
            for member in members:
                self.add_member(gid, member)
            return gid

    def update_group(self, group_id: str, **changes) -> None:
        """Change a group's properties (Graph names); only real changes are tracked."""
        with self._lock:
            group = self._require_group(group_id)
            unknown = set(changes) - set(group.data) | ({"id"} & set(changes))
            if unknown:
                raise ValueError(f"unknown or read-only properties: {sorted(unknown)}")
            changed = {k: copy.deepcopy(v) for k, v in changes.items() if group.data[k] != v}
            if changed:
                group.data.update(changed)
                self._touch(group.id, props=changed, kind="groups")

    def add_member(self, group_id: str, member_key: str) -> None:
        """Add a user (id or UPN) or a group (id) to a group."""
        with self._lock:
            group = self._require_group(group_id)
            nested = self._groups.get(member_key.lower())
            if nested is not None:
                if nested is group or group.id in {g.id for g in self._descendants(nested)}:
                    raise ValueError("a group cannot contain itself")
                if nested.id not in group.groups:
                    group.groups.append(nested.id)
                    self._touch(group.id, kind="groups", members={nested.id: (True, "group")})
                return
            uid, index = self._require_active(member_key)
            if self._is_member([group], uid, index):
                return
            if uid in group.removed:
                group.removed.discard(uid)
            else:
                group.added[uid] = None
            self._touch(group.id, kind="groups", members={uid: (True, "user")})

    def remove_member(self, group_id: str, member_key: str) -> None:
        """Take a user or group out of a group (a no-op when it isn't a direct member)."""
        with self._lock:
            group = self._require_group(group_id)
            if member_key.lower() in group.groups:
                group.groups.remove(member_key.lower())
                self._touch(group.id, kind="groups", members={member_key.lower(): (False, "group")})
                return
            found = self._locate(member_key)
            if found is None:
                raise LookupError(f"no user or group {member_key}")
            uid, index = found
            if not self._is_member([group], uid, index):
                return
            group.added.pop(uid, None)
            if group.rule is not None and index is not None and group.rule(self.seed.user(index)):
                group.removed.add(uid)
            self._touch(group.id, kind="groups", members={uid: (False, "user")})

    # -- delta -------------------------------------------------------------------------------

    @property
    def sequence(self) -> int:
        """The number of the latest change (0: nothing changed since the tenant was generated)."""
        with self._lock:
            return self._seq

    def log_position(self, since: int, kind: str = "users") -> int:
        """Where changes after sequence number `since` start in the change log of users or groups."""
        with self._lock:
            return bisect.bisect_right(self._logs[kind], since, key=lambda entry: entry[0])

    def changes_page(self, start: int, since: int, upto: int, limit: int, props: frozenset[str] | None = None,
                     kind: str = "users") -> tuple[list[Change], int | None]:
        """Objects changed in (since, upto], from log position `start`; only changes to `props` count."""
        with self._lock:
            log, out, pos = self._logs[kind], [], start
            while pos < len(log):
                seq, oid = log[pos]
                if seq > upto:
                    break
                track = self._tracks[oid]
                # An object is sent once, at its latest change; if that is after `upto`, the next round has it.
                if track.seq == seq and self._relevant(track, since, props):
                    if len(out) == limit:
                        return out, pos
                    state = self._state.get(oid, "active")
                    fresh = track.created > since or (track.life > since and state == "active")
                    changed = frozenset(p for p, s in track.props.items() if s > since)
                    members = tuple((m, k, present) for m, (s, present, k) in track.members.items() if s > since)
                    out.append(Change(oid, state, fresh, changed, members))
                pos += 1
            return out, None

    def manager_id(self, key: str) -> str | None:
        """The id of the user's active manager, or None."""
        with self._lock:
            found = self._locate(key)
            return self._manager_id(found[0]) if found else None

    # -- internals ---------------------------------------------------------------------------

    def _end(self) -> int:
        return self.size + len(self._added_order)

    def _id_at(self, pos: int) -> str:
        return self.seed.user_ids.encode(pos) if pos < self.size else self._added_order[pos - self.size]

    def _position(self, uid: str) -> int:
        index = self.seed.user_ids.decode(uid)
        return index if index is not None and index < self.size else self._positions[uid]

    def _locate(self, key: str) -> tuple[str, int | None] | None:
        # (id, base index or None) for an id or UPN, whatever the user's state.
        text = key.strip().lower()
        if text.startswith("('") and text.endswith("')"):
            text = text[2:-2]
        if text in self._added:
            return text, None
        index = self.seed.user_ids.decode(text)
        if index is not None and index < self.size:
            return text, index
        if "@" not in text:
            return None
        uid = self._upns.get(text)
        if uid is not None:
            return uid, None if uid in self._added else self.seed.user_ids.decode(uid)
        index = self.seed.index_of_upn(text)
        if index is None or "userPrincipalName" in self._overlay.get(index, {}):
            return None  # renamed since: the generated UPN no longer points at anyone
        return self.seed.user_ids.encode(index), index

    def _require_active(self, key: str) -> tuple[str, int | None]:
        found = self._locate(key)
        if found is None or found[0] in self._state:
            raise LookupError(f"no active user {key}")
        return found

    def _require_group(self, group_id: str) -> Group:
        group = self._groups.get(group_id.lower())
        if group is None:
            raise LookupError(f"no group {group_id}")
        return group

    def _materialize(self, uid: str | None, index: int | None) -> dict:
        if index is None:
            return copy.deepcopy(self._added[uid])
        user = self.seed.user(index)
        overlay = self._overlay.get(index)
        if overlay:
            user.update(copy.deepcopy(overlay))
        return user

    def _set(self, uid: str, index: int | None, name: str, value) -> None:
        # A bookkeeping property (not a tracked change).
        if index is None:
            self._added[uid][name] = value
        else:
            self._overlay.setdefault(index, {})[name] = value

    def _new_id(self) -> str:
        while True:
            uid = "{:08x}-{:04x}-4{:03x}-{}{:03x}-{:012x}".format(
                self._ids.getrandbits(32), self._ids.getrandbits(16), self._ids.getrandbits(12),
                "89ab"[self._ids.getrandbits(2)], self._ids.getrandbits(12), self._ids.getrandbits(48))
            if self._locate(uid) is None and uid not in self._groups:
                return uid

    def _touch(self, oid: str, props: Iterable[str] = (), life: bool = False, created: bool = False,
               kind: str = "users", members: dict[str, tuple[bool, str]] | None = None) -> None:
        self._seq += 1
        self._logs[kind].append((self._seq, oid))
        track = self._tracks.setdefault(oid, Track())
        track.seq = self._seq
        for name in props:
            track.props[name] = self._seq
        for member, (present, member_kind) in (members or {}).items():
            track.members[member] = (self._seq, present, member_kind)
            track.props["members"] = self._seq
        if life:
            track.life = self._seq
        if created:
            track.created = self._seq

    @staticmethod
    def _relevant(track: Track, since: int, props: frozenset[str] | None) -> bool:
        if track.created > since or track.life > since:
            return True
        if props is None:
            return any(seq > since for seq in track.props.values())
        return any(track.props.get(name, 0) > since for name in props)

    def _manager_id(self, uid: str) -> str | None:
        if uid in self._managers:
            manager_id = self._managers[uid]
        else:
            index = self.seed.user_ids.decode(uid)
            boss = self.seed.manager_index(index) if index is not None and index < self.size else None
            manager_id = self.seed.user_ids.encode(boss) if boss is not None else None
        return manager_id if manager_id and manager_id not in self._state else None

    def _is_member(self, groups: list[Group], uid: str, index: int | None) -> bool:
        base = None
        for group in groups:
            if uid in group.added:
                return True
            if group.rule is not None and index is not None and uid not in group.removed:
                base = base or self.seed.user(index)
                if group.rule(base):
                    return True
        return False

    def _member_positions(self, groups: list[Group], start: int) -> Iterable[int]:
        # Rule groups need a scan of the whole directory; explicit-only groups just their members.
        if any(g.rule is not None for g in groups):
            return range(start, self._end())
        positions = {self._position(uid) for g in groups for uid in g.added}
        return sorted(p for p in positions if p >= start)

    def _descendants(self, group: Group) -> list[Group]:
        # Nested groups, breadth first, each once (cycles can't loop forever).
        seen, queue, out = {group.id}, list(group.groups), []
        while queue:
            gid = queue.pop(0)
            if gid in seen or gid not in self._groups:
                continue
            seen.add(gid)
            out.append(self._groups[gid])
            queue.extend(self._groups[gid].groups)
        return out

    def _member_of_ids(self, key: str, transitive: bool) -> list[str] | None:
        if key.lower() in self._groups:
            direct = [g.id for g in self._groups.values() if key.lower() in g.groups]
        else:
            found = self._locate(key)
            if found is None or found[0] in self._state:
                return None
            direct = [g.id for g in self._groups.values() if self._is_member([g], *found)]
        if not transitive:
            return direct
        out, queue = [], list(direct)
        while queue:
            gid = queue.pop(0)
            if gid in out:
                continue
            out.append(gid)
            queue.extend(g.id for g in self._groups.values() if gid in g.groups)
        return out
