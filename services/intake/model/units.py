"""Administrative units, offices and counters (đơn vị hành chính, trung tâm / bộ phận một cửa, quầy).

Pure: pydantic models and functions, no I/O.

The unit hierarchy is data, not code (DOMAIN §2): three tiers before 1 July 2025
(tỉnh → huyện → xã) and two tiers after it (tỉnh → xã). Codes follow the national statistical
numbering (2 digits province, 3 digits district, 5 digits commune) and **are reused over time**:
"91" was Kiên Giang until 30/6/2025 and is the merged An Giang since 1/7/2025; commune 30313
(Xã Mỹ Hòa Hưng) kept its code but changed parent from 883 to 91. A unit is therefore a
*version*: the pair (code, valid_from) is unique and the validity periods of one code never
overlap. Queries take an optional date; without one they use the current (or, for an abolished
code, the last) version.
"""

from __future__ import annotations

import re
from collections import Counter as Multiset
from collections import defaultdict, deque
from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "RECEIVING_UNIT_ID_RE",
    "AdminLevel",
    "AdministrativeUnit",
    "Counter",
    "FieldOfService",
    "NoSuccessorError",
    "Office",
    "UnitCatalogueData",
    "UnitNotInForceError",
    "UnitTree",
    "UnitTreeError",
    "UnitType",
    "UnknownUnitError",
    "validate_unit_catalogue",
]


class AdminLevel(StrEnum):
    """Tier of government (cấp). ``CENTRAL`` is used by the procedure catalogue only."""

    CENTRAL = "central"  # cấp trung ương (bộ, ngành)
    PROVINCE = "province"  # cấp tỉnh
    DISTRICT = "district"  # cấp huyện (bãi bỏ từ 1/7/2025)
    COMMUNE = "commune"  # cấp xã

    @property
    def rank(self) -> int:
        """0 for the top tier; a parent always has a smaller rank than its child."""
        return _LEVEL_RANK[self]


_LEVEL_RANK = {
    AdminLevel.CENTRAL: 0,
    AdminLevel.PROVINCE: 1,
    AdminLevel.DISTRICT: 2,
    AdminLevel.COMMUNE: 3,
}

# Official code length per tier (Quyết định 124/2004/QĐ-TTg, 19/2025/QĐ-TTg).
_CODE_LENGTH = {AdminLevel.PROVINCE: 2, AdminLevel.DISTRICT: 3, AdminLevel.COMMUNE: 5}


class UnitType(StrEnum):
    """Kind of administrative unit (loại đơn vị hành chính)."""

    PROVINCE = "province"  # tỉnh
    MUNICIPALITY = "municipality"  # thành phố trực thuộc trung ương
    DISTRICT = "district"  # huyện
    URBAN_DISTRICT = "urban_district"  # quận
    DISTRICT_TOWN = "district_town"  # thị xã
    PROVINCIAL_CITY = "provincial_city"  # thành phố thuộc tỉnh / thuộc thành phố trực thuộc TW
    COMMUNE = "commune"  # xã
    WARD = "ward"  # phường
    TOWNSHIP = "township"  # thị trấn (bãi bỏ từ 1/7/2025)
    SPECIAL_ZONE = "special_zone"  # đặc khu (cấp xã, từ 1/7/2025)

    @property
    def level(self) -> AdminLevel:
        return _TYPE_LEVEL[self]


_TYPE_LEVEL = {
    UnitType.PROVINCE: AdminLevel.PROVINCE,
    UnitType.MUNICIPALITY: AdminLevel.PROVINCE,
    UnitType.DISTRICT: AdminLevel.DISTRICT,
    UnitType.URBAN_DISTRICT: AdminLevel.DISTRICT,
    UnitType.DISTRICT_TOWN: AdminLevel.DISTRICT,
    UnitType.PROVINCIAL_CITY: AdminLevel.DISTRICT,
    UnitType.COMMUNE: AdminLevel.COMMUNE,
    UnitType.WARD: AdminLevel.COMMUNE,
    UnitType.TOWNSHIP: AdminLevel.COMMUNE,
    UnitType.SPECIAL_ZONE: AdminLevel.COMMUNE,
}

# National agency identifier (mã định danh điện tử cơ quan, QĐ 20/2020/QĐ-TTg) as written in
# dossier codes: level-4.level-3.level-2.level-1, e.g. "000.00.12.H01". Digits in practice;
# capital letters are accepted because the standard allows them once numbers run out.
RECEIVING_UNIT_ID_RE = re.compile(r"^[0-9A-Z]{3}\.[0-9A-Z]{2}\.[0-9A-Z]{2}\.[A-Z][0-9A-Z]{2}$")

_SLUG_RE = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"


class AdministrativeUnit(BaseModel):
    """One version of an administrative unit (đơn vị hành chính) with its validity period."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^\d{2,5}$", description="Mã đơn vị hành chính (2/3/5 chữ số)")
    name: str = Field(min_length=1, description="Tên đầy đủ, ví dụ 'Phường Long Xuyên'")
    type: UnitType
    parent_code: str | None = None
    valid_from: date | None = Field(default=None, description="None = không rõ / từ trước")
    valid_to: date | None = Field(default=None, description="None = đang có hiệu lực")
    successor_codes: list[str] = Field(default_factory=list)
    former_names: list[str] = Field(default_factory=list, description="Tên cũ / cách viết cũ")

    @property
    def level(self) -> AdminLevel:
        return self.type.level

    @property
    def is_current(self) -> bool:
        return self.valid_to is None

    @model_validator(mode="after")
    def _check_dates(self) -> AdministrativeUnit:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self

    def in_force_at(self, at: date) -> bool:
        """True when the unit legally exists on ``at`` (both ends inclusive)."""
        return (self.valid_from is None or self.valid_from <= at) and (self.valid_to is None or at <= self.valid_to)

    def label(self) -> str:
        """Short human label used in messages: ``91 Tỉnh An Giang (2025-07-01..)``."""
        start = self.valid_from.isoformat() if self.valid_from else ""
        end = self.valid_to.isoformat() if self.valid_to else ""
        return f"{self.code} {self.name} ({start}..{end})"


class Office(BaseModel):
    """A reception-and-result office: Trung tâm Phục vụ hành chính công / Bộ phận một cửa."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_SLUG_RE)
    name: str = Field(min_length=1)
    unit_code: str
    receiving_unit_id: str = Field(description="Mã định danh cơ quan dùng trong mã hồ sơ")
    address: str = ""
    level: AdminLevel
    active: bool = True

    @field_validator("receiving_unit_id")
    @classmethod
    def _check_receiving_unit_id(cls, value: str) -> str:
        value = value.strip().upper()
        if not RECEIVING_UNIT_ID_RE.match(value):
            raise ValueError(
                f"receiving_unit_id {value!r} must look like '000.00.12.H01' "
                "(four dotted groups of 3, 2, 2 and 3 characters)"
            )
        return value


class Counter(BaseModel):
    """A counter (quầy) of an office and the fields (lĩnh vực) it serves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_SLUG_RE)
    office_id: str
    number: int = Field(ge=1, description="Số quầy")
    name: str = Field(min_length=1)
    fields: list[str] = Field(default_factory=list, description="Mã lĩnh vực phục vụ")


class FieldOfService(BaseModel):
    """A field of administrative procedures (lĩnh vực), e.g. ``ho_tich`` = Hộ tịch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=_SLUG_RE)
    name: str = Field(min_length=1)


class UnitCatalogueData(BaseModel):
    """The whole unit data file: units (all versions), offices, counters and fields."""

    model_config = ConfigDict(extra="forbid")

    source: str = ""
    note: str = ""
    units: list[AdministrativeUnit] = Field(default_factory=list)
    offices: list[Office] = Field(default_factory=list)
    counters: list[Counter] = Field(default_factory=list)
    fields: list[FieldOfService] = Field(default_factory=list)

    def tree(self) -> UnitTree:
        return UnitTree(self.units)

    def office(self, office_id: str) -> Office:
        for office in self.offices:
            if office.id == office_id:
                return office
        raise KeyError(office_id)

    def counters_of(self, office_id: str) -> list[Counter]:
        return sorted((c for c in self.counters if c.office_id == office_id), key=lambda c: c.number)

    def field_names(self) -> dict[str, str]:
        return {f.code: f.name for f in self.fields}


# --------------------------------------------------------------------------- errors


class UnknownUnitError(KeyError):
    """No unit with that code (or none in force on the date asked)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class UnitNotInForceError(UnknownUnitError):
    """The code exists but no version of it is in force on the date asked."""


class UnitTreeError(ValueError):
    """The unit data is inconsistent (cycle, missing parent, …): run `validate_unit_catalogue`."""


class NoSuccessorError(LookupError):
    """The unit ended and names no successor, so it cannot be resolved to a current unit."""


# --------------------------------------------------------------------------- tree


class UnitTree:
    """Queries over unit versions. Build it from the list in the data file.

    Dates are inclusive. When ``at`` is omitted a query uses the current version of a code (or
    its last one if it was abolished), and each parent is taken as in force on the child's last
    day (``valid_to``), or the current parent for a current child.
    """

    def __init__(self, units: Iterable[AdministrativeUnit]) -> None:
        by_code: dict[str, list[AdministrativeUnit]] = defaultdict(list)
        for unit in units:
            by_code[unit.code].append(unit)
        for versions in by_code.values():
            versions.sort(key=lambda u: u.valid_from or date.min)
        self._by_code: dict[str, list[AdministrativeUnit]] = dict(by_code)
        self._children: dict[str, list[AdministrativeUnit]] = defaultdict(list)
        for versions in self._by_code.values():
            for unit in versions:
                if unit.parent_code is not None:
                    self._children[unit.parent_code].append(unit)
        for kids in self._children.values():
            kids.sort(key=lambda u: (u.code, u.valid_from or date.min))

    # ----------------------------------------------------------- lookup

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_code.values())

    def codes(self) -> list[str]:
        return list(self._by_code)

    @property
    def units(self) -> list[AdministrativeUnit]:
        return [u for versions in self._by_code.values() for u in versions]

    def versions(self, code: str) -> list[AdministrativeUnit]:
        """Every version of ``code``, oldest first."""
        try:
            return list(self._by_code[code])
        except KeyError:
            raise UnknownUnitError(f"unknown administrative unit code {code!r}", code) from None

    def get(self, code: str, at: date | None = None) -> AdministrativeUnit:
        """The version of ``code`` in force on ``at`` (default: the current or last version)."""
        versions = self.versions(code)
        if at is None:
            return self._latest(versions)
        for unit in versions:
            if unit.in_force_at(at):
                return unit
        spans = ", ".join(f"{u.valid_from or '…'}..{u.valid_to or '…'}" for u in versions)
        raise UnitNotInForceError(
            f"administrative unit {code} is not in force on {at.isoformat()} (valid {spans})", code
        )

    def active_at(self, code: str, at: date) -> bool:
        """True when some version of ``code`` is in force on ``at``. Unknown code → error."""
        return any(u.in_force_at(at) for u in self.versions(code))

    def search(self, name: str, at: date | None = None) -> list[AdministrativeUnit]:
        """Units whose name or a former name equals ``name`` (case-insensitive)."""
        wanted = name.strip().casefold()
        found = []
        for unit in self.units:
            names = [unit.name, *unit.former_names]
            if any(n.strip().casefold() == wanted for n in names) and (at is None or unit.in_force_at(at)):
                found.append(unit)
        return found

    # ----------------------------------------------------------- hierarchy

    def parent(self, code: str, at: date | None = None) -> AdministrativeUnit | None:
        return self._parent_of(self.get(code, at), at)

    def children(self, code: str, at: date | None = None) -> list[AdministrativeUnit]:
        """Direct children (sorted by code), in force on ``at`` when given."""
        node = self.get(code, at)
        return [c for c in self._children.get(node.code, []) if self._is_child(c, node, at)]

    def ancestors(self, code: str, at: date | None = None) -> list[AdministrativeUnit]:
        """Parent, grandparent, … up to the province (nearest first)."""
        unit = self.get(code, at)
        chain: list[AdministrativeUnit] = []
        seen = {(unit.code, unit.valid_from)}
        parent = self._parent_of(unit, at)
        while parent is not None:
            key = (parent.code, parent.valid_from)
            if key in seen:
                raise UnitTreeError(f"cycle in unit hierarchy at {parent.label()}")
            seen.add(key)
            chain.append(parent)
            parent = self._parent_of(parent, at)
        return chain

    def descendants(self, code: str, at: date | None = None) -> list[AdministrativeUnit]:
        """All units below ``code`` (breadth first, by code), in force on ``at`` when given."""
        root = self.get(code, at)
        out: list[AdministrativeUnit] = []
        seen = {(root.code, root.valid_from)}
        queue: deque[AdministrativeUnit] = deque([root])
        while queue:
            node = queue.popleft()
            for child in self._children.get(node.code, []):
                if not self._is_child(child, node, at):
                    continue
                key = (child.code, child.valid_from)
                if key in seen:
                    raise UnitTreeError(f"cycle in unit hierarchy at {child.label()}")
                seen.add(key)
                out.append(child)
                queue.append(child)
        return out

    def is_within(self, code: str, ancestor_code: str, at: date | None = None) -> bool:
        """True when ``code`` is ``ancestor_code`` itself or lies below it."""
        self.versions(ancestor_code)  # unknown ancestor → clear error, not False
        unit = self.get(code, at)
        if unit.code == ancestor_code:
            return True
        return any(a.code == ancestor_code for a in self.ancestors(code, at))

    def province_of(self, code: str, at: date | None = None) -> AdministrativeUnit:
        """The province-level unit containing ``code`` (itself for a province)."""
        unit = self.get(code, at)
        if unit.level is AdminLevel.PROVINCE:
            return unit
        for ancestor in self.ancestors(code, at):
            if ancestor.level is AdminLevel.PROVINCE:
                return ancestor
        raise UnitTreeError(f"{unit.label()} has no province above it")

    def roots(self, at: date | None = None) -> list[AdministrativeUnit]:
        """Units without a parent (provinces), in force on ``at`` or current when omitted."""
        out = []
        for versions in self._by_code.values():
            for unit in versions:
                if unit.parent_code is not None:
                    continue
                if (at is None and unit.is_current) or (at is not None and unit.in_force_at(at)):
                    out.append(unit)
        return sorted(out, key=lambda u: u.code)

    # ----------------------------------------------------------- reform

    def resolve_successor(self, code: str, at: date) -> list[AdministrativeUnit]:
        """The unit(s) in force on ``at`` that took over ``code``.

        A unit in force on ``at`` resolves to itself. Otherwise the version that ended last
        before ``at`` is followed through ``successor_codes`` (each successor taken as in force
        the day after its predecessor ended), repeatedly, until units in force on ``at`` are
        reached. Example: 89 (An Giang, until 30/6/2025) → 91 (An Giang since 1/7/2025).
        """
        versions = self.versions(code)
        for unit in versions:
            if unit.in_force_at(at):
                return [unit]
        ended = [u for u in versions if u.valid_to is not None and u.valid_to < at]
        if not ended:
            raise UnitNotInForceError(f"administrative unit {code} did not exist yet on {at.isoformat()}", code)
        start = max(ended, key=lambda u: u.valid_to or date.min)
        result: list[AdministrativeUnit] = []
        self._follow(start, at, result, set())
        return result

    def _follow(
        self,
        unit: AdministrativeUnit,
        at: date,
        result: list[AdministrativeUnit],
        seen: set[tuple[str, date | None]],
    ) -> None:
        key = (unit.code, unit.valid_from)
        if key in seen:
            raise UnitTreeError(f"cycle in successor links at {unit.label()}")
        seen.add(key)
        if unit.in_force_at(at):
            if all((r.code, r.valid_from) != key for r in result):
                result.append(unit)
            return
        if not unit.successor_codes or unit.valid_to is None:
            raise NoSuccessorError(f"{unit.label()} ended without a successor; cannot resolve it on {at.isoformat()}")
        next_day = unit.valid_to + timedelta(days=1)
        for succ_code in unit.successor_codes:
            try:
                successor = self.get(succ_code, next_day)
            except UnknownUnitError as exc:
                raise UnitTreeError(
                    f"successor {succ_code} of {unit.label()} is not in force on {next_day}: {exc}"
                ) from exc
            self._follow(successor, at, result, seen)

    def parent_of(self, unit: AdministrativeUnit, at: date | None = None) -> AdministrativeUnit | None:
        """The parent version of a given unit version (see the class docstring for dates)."""
        return self._parent_of(unit, at)

    # ----------------------------------------------------------- internals

    @staticmethod
    def _latest(versions: list[AdministrativeUnit]) -> AdministrativeUnit:
        for unit in versions:
            if unit.valid_to is None:
                return unit
        return max(versions, key=lambda u: u.valid_to or date.min)

    def _parent_of(self, unit: AdministrativeUnit, at: date | None) -> AdministrativeUnit | None:
        if unit.parent_code is None:
            return None
        ref = at if at is not None else unit.valid_to
        try:
            return self.get(unit.parent_code, ref)
        except UnknownUnitError as exc:
            raise UnitTreeError(f"parent of {unit.label()}: {exc}") from exc

    def _is_child(self, child: AdministrativeUnit, node: AdministrativeUnit, at: date | None) -> bool:
        if at is not None and not child.in_force_at(at):
            return False
        try:
            parent = self._parent_of(child, at)
        except UnitTreeError:
            return False
        return parent is not None and (parent.code, parent.valid_from) == (node.code, node.valid_from)


# --------------------------------------------------------------------------- validation


def _overlap(a: AdministrativeUnit, b: AdministrativeUnit) -> bool:
    a_start, b_start = a.valid_from or date.min, b.valid_from or date.min
    a_end, b_end = a.valid_to or date.max, b.valid_to or date.max
    return a_start <= b_end and b_start <= a_end


def validate_unit_catalogue(data: UnitCatalogueData) -> list[str]:
    """Referential-integrity check of a unit data file; returns human-readable problems."""
    problems: list[str] = []
    tree = UnitTree(data.units)
    field_codes = [f.code for f in data.fields]

    # fields
    for code in _duplicates(field_codes):
        problems.append(f"field {code}: duplicate code")
    known_fields = set(field_codes)

    # units: versions of one code
    for code in sorted(tree.codes()):
        versions = tree.versions(code)
        for i, a in enumerate(versions):
            for b in versions[i + 1 :]:
                if a.valid_from == b.valid_from:
                    problems.append(f"unit {code}: duplicate version starting {a.valid_from or 'unknown'}")
                elif _overlap(a, b):
                    problems.append(f"unit {code}: validity of {a.label()} overlaps {b.label()}")

    for unit in tree.units:
        where = f"unit {unit.label()}"
        expected_len = _CODE_LENGTH.get(unit.level)
        if expected_len and len(unit.code) != expected_len:
            problems.append(f"{where}: a {unit.level.value}-level code has {expected_len} digits, not {len(unit.code)}")
        # parent
        if unit.level is AdminLevel.PROVINCE:
            if unit.parent_code is not None:
                problems.append(f"{where}: a province must not have a parent")
        elif unit.parent_code is None:
            problems.append(f"{where}: a {unit.level.value}-level unit needs a parent_code")
        elif unit.parent_code not in tree:
            problems.append(f"{where}: parent {unit.parent_code} does not exist")
        else:
            parents: list[AdministrativeUnit] = []
            for ref in (unit.valid_from, unit.valid_to):
                if ref is None:
                    continue
                try:
                    parents.append(tree.get(unit.parent_code, ref))
                except UnknownUnitError:
                    problems.append(f"{where}: parent {unit.parent_code} is not in force on {ref}")
            if unit.valid_to is None:
                parent_now = tree.get(unit.parent_code)
                parents.append(parent_now)
                if not parent_now.is_current:
                    problems.append(f"{where}: current unit under ended parent {parent_now.label()}")
            for parent in parents:
                if parent.level.rank >= unit.level.rank:
                    problems.append(
                        f"{where}: parent {parent.label()} is not above it "
                        f"({parent.level.value} over {unit.level.value})"
                    )
                    break
        # successors
        if unit.successor_codes and unit.valid_to is None:
            problems.append(f"{where}: a current unit cannot have successors")
        for succ in unit.successor_codes:
            if succ not in tree:
                problems.append(f"{where}: successor {succ} does not exist")
            elif unit.valid_to is not None:
                next_day = unit.valid_to + timedelta(days=1)
                if not tree.active_at(succ, next_day):
                    problems.append(f"{where}: successor {succ} is not in force on {next_day}")

    # cycles in parent chains (successor chains always move forward in time, so cannot loop)
    reported: set[tuple[str, date | None]] = set()
    for unit in tree.units:
        culprit = _parent_cycle(tree, unit)
        if culprit is not None and (culprit.code, culprit.valid_from) not in reported:
            reported.add((culprit.code, culprit.valid_from))
            problems.append(f"unit {culprit.label()}: cycle in the parent chain")

    # offices
    office_ids = [o.id for o in data.offices]
    for oid in _duplicates(office_ids):
        problems.append(f"office {oid}: duplicate id")
    rids = [o.receiving_unit_id for o in data.offices]
    for rid in _duplicates(rids):
        problems.append(f"receiving_unit_id {rid} is used by more than one office")
    for office in data.offices:
        if office.unit_code not in tree:
            problems.append(f"office {office.id}: unit {office.unit_code} does not exist")
            continue
        unit = tree.get(office.unit_code)
        if unit.level is not office.level:
            problems.append(
                f"office {office.id}: level {office.level.value} does not match unit "
                f"{unit.label()} ({unit.level.value})"
            )
        if office.active and not unit.is_current:
            problems.append(f"office {office.id}: active office attached to ended unit {unit.label()}")

    # counters
    counter_ids = [c.id for c in data.counters]
    for cid in _duplicates(counter_ids):
        problems.append(f"counter {cid}: duplicate id")
    known_offices = set(office_ids)
    numbers: dict[tuple[str, int], str] = {}
    for counter in data.counters:
        if counter.office_id not in known_offices:
            problems.append(f"counter {counter.id}: office {counter.office_id} does not exist")
        slot = (counter.office_id, counter.number)
        if slot in numbers and numbers[slot] != counter.id:
            problems.append(
                f"counter {counter.id}: number {counter.number} already used by {numbers[slot]} "
                f"in office {counter.office_id}"
            )
        numbers.setdefault(slot, counter.id)
        for fcode in counter.fields:
            if fcode not in known_fields:
                problems.append(f"counter {counter.id}: unknown field {fcode}")
    return problems


def _duplicates(values: list[str]) -> list[str]:
    return sorted(v for v, n in Multiset(values).items() if n > 1)


def _safe_parent(tree: UnitTree, unit: AdministrativeUnit) -> AdministrativeUnit | None:
    try:
        return tree.parent_of(unit)
    except UnitTreeError:
        return None  # reported as a missing / not-in-force parent above


def _parent_cycle(tree: UnitTree, unit: AdministrativeUnit) -> AdministrativeUnit | None:
    """The first unit met twice when walking up from ``unit``, or None."""
    seen = {(unit.code, unit.valid_from)}
    parent = _safe_parent(tree, unit)
    while parent is not None:
        key = (parent.code, parent.valid_from)
        if key in seen:
            return parent
        seen.add(key)
        parent = _safe_parent(tree, parent)
    return None
