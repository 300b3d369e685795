"""Daily reconciliation (đối soát): our paid intents against a provider's statement. Pure.

For one channel and one day (Vietnam time) every payment we recorded is matched by its
reference with the provider's settlement rows. Mismatches:

- `missing_at_provider` — paid here, not in their statement;
- `missing_here` — in their statement, not paid here (unknown reference, or an intent we did
  not mark paid);
- `amount_mismatch` — both sides have it with different amounts;
- `duplicate_at_provider` — the provider settled the same reference twice.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from zoneinfo import ZoneInfo

from services.payments.model.intent import Channel
from services.payments.model.vietqr import find_ref

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
GMT7 = timezone(timedelta(hours=7))


class MismatchKind(StrEnum):
    MISSING_AT_PROVIDER = "missing_at_provider"
    MISSING_HERE = "missing_here"
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE_AT_PROVIDER = "duplicate_at_provider"


@dataclass(frozen=True)
class OurPayment:
    ref: str
    amount: int
    paid_at: datetime
    provider_txn: str | None = None
    intent_id: str | None = None
    dossier_code: str | None = None


@dataclass(frozen=True)
class StatementRow:
    ref: str | None
    amount: int
    at: datetime | None
    provider_txn: str | None
    line: int


@dataclass(frozen=True)
class Mismatch:
    kind: MismatchKind
    ref: str | None
    our_amount: int | None = None
    their_amount: int | None = None
    provider_txn: str | None = None
    intent_id: str | None = None
    dossier_code: str | None = None
    note: str = ""


@dataclass
class Report:
    channel: Channel
    day: date
    our_count: int = 0
    our_total: int = 0
    their_count: int = 0
    their_total: int = 0
    matched: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.mismatches and self.our_total == self.their_total


class StatementError(ValueError):
    pass


@dataclass(frozen=True)
class StatementFormat:
    """How one provider's settlement CSV names its columns."""

    ref: str
    txn: str
    amount: str
    at: str
    at_format: str | None  # strptime format in GMT+7, or None for ISO 8601
    amount_scale: int = 1
    status: str | None = None
    ok_status: frozenset[str] = frozenset()
    ref_from_note: bool = False


FORMATS: dict[Channel, StatementFormat] = {
    Channel.VNPAY: StatementFormat(ref="vnp_TxnRef", txn="vnp_TransactionNo", amount="vnp_Amount",
                                   at="vnp_PayDate", at_format="%Y%m%d%H%M%S", amount_scale=100,
                                   status="vnp_TransactionStatus", ok_status=frozenset({"00"})),
    Channel.VIETQR: StatementFormat(ref="description", txn="transaction_id", amount="amount",
                                    at="transferred_at", at_format=None, ref_from_note=True),
    Channel.POS: StatementFormat(ref="ref", txn="rrn", amount="amount", at="settled_at", at_format=None,
                                 status="status", ok_status=frozenset({"approved"})),
}

STATEMENT_HEADERS: dict[Channel, tuple[str, ...]] = {
    Channel.VNPAY: ("vnp_TxnRef", "vnp_TransactionNo", "vnp_Amount", "vnp_PayDate", "vnp_BankCode",
                    "vnp_TransactionStatus"),
    Channel.VIETQR: ("transaction_id", "account", "amount", "description", "transferred_at"),
    Channel.POS: ("terminal_id", "sale_id", "ref", "rrn", "amount", "status", "settled_at"),
}


def _parse_at(text: str, fmt: str | None) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        if fmt:
            return datetime.strptime(text, fmt).replace(tzinfo=GMT7)
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=GMT7)
    except ValueError as exc:
        raise StatementError(f"bad date {text!r}") from exc


def parse_statement(channel: Channel, text: str) -> list[StatementRow]:
    """Rows of a settlement CSV (settled transactions only)."""
    if channel not in FORMATS:
        raise StatementError(f"no statement format for channel {channel}")
    spec = FORMATS[channel]
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    needed = {spec.ref, spec.txn, spec.amount, spec.at} | ({spec.status} if spec.status else set())
    missing = needed - set(reader.fieldnames or [])
    if missing:
        raise StatementError(f"the statement lacks columns: {', '.join(sorted(missing))}")
    rows: list[StatementRow] = []
    for line, raw in enumerate(reader, start=2):
        if spec.status and (raw.get(spec.status) or "").strip() not in spec.ok_status:
            continue
        amount_text = (raw.get(spec.amount) or "").strip().replace(".", "").replace(",", "")
        if not amount_text.isdigit():
            raise StatementError(f"line {line}: bad amount {raw.get(spec.amount)!r}")
        amount, remainder = divmod(int(amount_text), spec.amount_scale)
        if remainder:
            raise StatementError(f"line {line}: amount is not a whole number of đồng")
        ref_raw = (raw.get(spec.ref) or "").strip()
        ref = find_ref(ref_raw) if spec.ref_from_note else (ref_raw or None)
        rows.append(StatementRow(ref=ref, amount=amount, at=_parse_at(raw.get(spec.at) or "", spec.at_format),
                                 provider_txn=(raw.get(spec.txn) or "").strip() or None, line=line))
    return rows


def write_statement(channel: Channel, rows: list[dict[str, str]]) -> str:
    """A settlement CSV in the provider's format (the simulators use it)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(STATEMENT_HEADERS[channel]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in STATEMENT_HEADERS[channel]})
    return out.getvalue()


def local_day(moment: datetime) -> date:
    return moment.astimezone(VN_TZ).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a Vietnam calendar day, as aware datetimes."""
    start = datetime(day.year, day.month, day.day, tzinfo=VN_TZ)
    return start, start + timedelta(days=1)


def reconcile(
    channel: Channel,
    day: date,
    ours: list[OurPayment],
    theirs: list[StatementRow],
    *,
    known_elsewhere: frozenset[str] = frozenset(),
) -> Report:
    """Compare. `known_elsewhere`: references of payments that are ours but outside the caller's
    units (a shared merchant account), which are neither matched nor reported."""
    report = Report(channel=channel, day=day)
    report.our_count = len(ours)
    report.our_total = sum(p.amount for p in ours)
    ours_by_ref = {p.ref: p for p in ours}
    seen: set[str] = set()
    for row in theirs:
        if row.ref in known_elsewhere:
            continue
        report.their_count += 1
        report.their_total += row.amount
        mine = ours_by_ref.get(row.ref) if row.ref else None
        if mine is None:
            report.mismatches.append(Mismatch(MismatchKind.MISSING_HERE, row.ref, their_amount=row.amount,
                                              provider_txn=row.provider_txn, note=f"statement line {row.line}"))
            continue
        if mine.ref in seen:
            report.mismatches.append(Mismatch(MismatchKind.DUPLICATE_AT_PROVIDER, row.ref, mine.amount, row.amount,
                                              row.provider_txn, mine.intent_id, mine.dossier_code,
                                              note=f"statement line {row.line}"))
            continue
        seen.add(mine.ref)
        if mine.amount != row.amount:
            report.mismatches.append(Mismatch(MismatchKind.AMOUNT_MISMATCH, row.ref, mine.amount, row.amount,
                                              row.provider_txn, mine.intent_id, mine.dossier_code))
            continue
        report.matched += 1
    for payment in ours:
        if payment.ref not in seen:
            report.mismatches.append(Mismatch(MismatchKind.MISSING_AT_PROVIDER, payment.ref, our_amount=payment.amount,
                                              provider_txn=payment.provider_txn, intent_id=payment.intent_id,
                                              dossier_code=payment.dossier_code))
    return report
