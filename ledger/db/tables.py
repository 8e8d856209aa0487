"""SQLAlchemy 2 typed models.  No business rules here: they live in ``ledger.domain``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false

# BIGINT on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the rowid itself, the fastest key.
BigKey = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class LedgerEntry(Base):
    """One row per entry; ``seq`` is the 0-based leaf index, gapless.

    ``subtree_hashes`` holds the hashes of the complete subtrees this leaf closes (levels 1, 2,
    ... concatenated; NULL when it closes none), so every block of the Merkle tree is stored
    exactly once, in the row of its last leaf, and an append writes a single row.
    """

    __tablename__ = "ledger_entries"

    seq: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=False)
    entry: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    subtree_hashes: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    kind: Mapped[str] = mapped_column(String(100), nullable=False)
    subject: Mapped[str] = mapped_column(String(2048), nullable=False)
    actor_org: Mapped[str] = mapped_column(String(64), nullable=False)
    client_event_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    __table_args__ = (
        UniqueConstraint("actor_org", "client_event_id", name="uq_ledger_entries_client_event"),
        Index("ix_ledger_entries_subject_seq", "subject", "seq"),
        Index("ix_ledger_entries_kind_seq", "kind", "seq"),
    )


class LedgerCheckpoint(Base):
    """A signed checkpoint, stored as the exact signed-note text that was published."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class Grid(Base):
    """A node of the supervision tree: city bureau, district bureau, station or grid."""

    __tablename__ = "grids"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    level: Mapped[str] = mapped_column(String(10), nullable=False)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("grids.code"), nullable=True, index=True)
    updated_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    roles: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    created_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    uscc: Mapped[str | None] = mapped_column(String(18), nullable=True, unique=True)
    contact: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    require_signature: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())


class OrgScope(Base):
    """A grid-tree node an organisation (an inspector's bureau) is responsible for; a node
    covers everything below it."""

    __tablename__ = "org_scopes"

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"), primary_key=True, index=True)


class Site(Base):
    """A business site: an address in exactly one grid."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    address: Mapped[str] = mapped_column(String(500), nullable=False)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"), nullable=False, index=True)
    created_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)


class OrgSigningKey(Base):
    """An Ed25519 public key an organisation signs its events with (责任可究)."""

    __tablename__ = "org_signing_keys"

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Product(Base):
    """A trade item by GTIN-14, with the temperature band its batches must keep."""

    __tablename__ = "products"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    producer_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    name_zh: Mapped[str] = mapped_column(String(200), nullable=False)
    name_en: Mapped[str | None] = mapped_column(String(200), nullable=True)
    brand: Mapped[str | None] = mapped_column(String(200), nullable=True)
    category: Mapped[str] = mapped_column(String(100), nullable=False)
    storage_class: Mapped[str] = mapped_column(String(10), nullable=False)
    temp_min_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    temp_max_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_reading_gap_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    origin_country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    created_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)


class Batch(Base):
    """A coded batch (GTIN + lot): the unit every scan, trace and recall is about."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    gtin: Mapped[str] = mapped_column(ForeignKey("products.gtin"), nullable=False)
    lot: Mapped[str] = mapped_column(String(20), nullable=False)
    producer_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), nullable=False)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"), nullable=False, index=True)
    origin: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False)
    production_date: Mapped[date] = mapped_column(Date, nullable=False)
    expiry_date: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    quantity: Mapped[float] = mapped_column(Float, nullable=False)
    unit: Mapped[str] = mapped_column(String(20), nullable=False)
    documents: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False)
    created_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)

    __table_args__ = (UniqueConstraint("gtin", "lot", name="uq_batches_gtin_lot"),)


class User(Base):
    """A person's staff account for the browser pages; the password only as a scrypt hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    password_hash: Mapped[str] = mapped_column(String(300), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class ApiKey(Base):
    """An organisation's API key: only a SHA-256 of it is kept, found by its public prefix."""

    __tablename__ = "api_keys"

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class JobLock(Base):
    """A lease that makes one job runner the leader for one job at a time."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class JobRun(Base):
    """Every job run, whether it acted, skipped (not the leader) or failed."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(100), nullable=False)
    runner: Mapped[str] = mapped_column(String(200), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)


class Scan(Base):
    """One cold-chain scan (a ``scan.*`` entry), by GTIN + lot so that goods scanned but never
    coded (未赋码) are recorded too; ``batch_id`` is set when the batch is registered."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    action: Mapped[str] = mapped_column(String(10), nullable=False)
    gtin: Mapped[str] = mapped_column(String(14), nullable=False)
    lot: Mapped[str] = mapped_column(String(20), nullable=False)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), nullable=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    gln: Mapped[str | None] = mapped_column(String(13), nullable=True)
    counterparty_org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), nullable=True)
    to_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    quantity: Mapped[float] = mapped_column(Float, nullable=False)
    unit: Mapped[str] = mapped_column(String(20), nullable=False)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    utc_offset: Mapped[str] = mapped_column(String(6), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # ship: the receipt that closed it (NULL while in transit); receive: the shipment it closed.
    matched_scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id"), nullable=True)
    unexpected: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    uncoded: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    __table_args__ = (
        Index("ix_scans_batch_time", "batch_id", "event_time"),
        Index("ix_scans_code_action", "gtin", "lot", "action"),
        Index("ix_scans_org_time", "org_id", "event_time"),
        Index("ix_scans_counterparty", "counterparty_org_id", "action"),
        # A holder's last scan of a lot (the silent-goods rule), and shipments still in transit.
        Index("ix_scans_code_org_time", "gtin", "lot", "org_id", "event_time"),
        Index(
            "ix_scans_in_transit",
            "event_time",
            sqlite_where=text("action = 'ship' AND matched_scan_id IS NULL"),
            postgresql_where=text("action = 'ship' AND matched_scan_id IS NULL"),
        ),
    )


class TemperatureReading(Base):
    __tablename__ = "temperature_readings"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id"), nullable=False, index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    celsius: Mapped[float] = mapped_column(Float, nullable=False)

    __table_args__ = (Index("ix_temperature_readings_batch_at", "batch_id", "at"),)


class Holding(Base):
    """How much of a batch an organisation holds now, kept by every scan in the same
    transaction as its entry; goods in transit are in their open shipment, not here."""

    __tablename__ = "holdings"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    lot: Mapped[str] = mapped_column(String(20), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True, index=True)
    quantity: Mapped[float] = mapped_column(Float, nullable=False)
    unit: Mapped[str] = mapped_column(String(20), nullable=False)
    updated_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)

    # Stock that is there: emptied holdings stay as rows, and the rules only want the others.
    __table_args__ = (
        Index(
            "ix_holdings_in_stock",
            "org_id",
            "gtin",
            "lot",
            sqlite_where=text("quantity > 0"),
            postgresql_where=text("quantity > 0"),
        ),
    )


class BatchInput(Base):
    """A lineage edge: ``output_batch_id`` was made from ``quantity`` of ``input_batch_id``."""

    __tablename__ = "batch_inputs"

    output_batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    input_batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), primary_key=True, index=True)
    quantity: Mapped[float] = mapped_column(Float, nullable=False)
    unit: Mapped[str] = mapped_column(String(20), nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    event_time: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False)


class Recall(Base):
    __tablename__ = "recalls"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), nullable=False, index=True)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    opened_by: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    opened_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)


class Equipment(Base):
    """A special-equipment unit (an elevator first of all), known by its equipment code (设备代码)."""

    __tablename__ = "equipment"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    category: Mapped[str] = mapped_column(String(4), nullable=False)
    kind: Mapped[str] = mapped_column(String(100), nullable=False)
    registration_number: Mapped[str] = mapped_column(String(64), nullable=False)
    factory_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    emergency_code: Mapped[str | None] = mapped_column(String(6), nullable=True, unique=True)
    address: Mapped[str] = mapped_column(String(500), nullable=False)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"), nullable=False, index=True)
    user_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    maintenance_org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), nullable=True, index=True)
    contract_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    installed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    next_inspection_due: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    on_demand_max_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    updated_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)


class MaintenanceVisit(Base):
    """A maintenance visit: opened by scanning the unit's QR at check-in, closed by the record
    made at check-out.  A record without its check-in is refused."""

    __tablename__ = "maintenance_visits"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), nullable=False)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    check_in: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    check_in_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    record_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)

    __table_args__ = (Index("ix_maintenance_visits_open", "equipment_id", "org_id", "record_seq"),)


class MaintenanceRecord(Base):
    """A maintenance record (TSG T5002).  Never edited: a correction is a new record whose
    ``amends_seq`` points at the original, which then counts no more."""

    __tablename__ = "maintenance_records"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), nullable=False)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    tier: Mapped[str] = mapped_column(String(12), nullable=False)
    check_in: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    check_out: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    faults: Mapped[int] = mapped_column(Integer, nullable=False)
    amends_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    amended_by_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    confirmed_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_maintenance_records_unit_out", "equipment_id", "check_out"),
        # The maintenance rules ask "a valid visit of these tiers since that day?" per unit.
        Index(
            "ix_maintenance_records_valid_visits",
            "equipment_id",
            "tier",
            "check_out",
            sqlite_where=text("amended_by_seq IS NULL"),
            postgresql_where=text("amended_by_seq IS NULL"),
        ),
    )


class Inspection(Base):
    """A periodic inspection (定期检验), a self-test (自行检测) or the maintenance company's
    yearly self-inspection before it."""

    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), nullable=False, index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    inspected_on: Mapped[date] = mapped_column(Date, nullable=False)
    result: Mapped[str] = mapped_column(String(10), nullable=False)
    report_number: Mapped[str] = mapped_column(String(64), nullable=False)
    next_due: Mapped[date | None] = mapped_column(Date, nullable=True)


class Incident(Base):
    """A fault or an entrapment (困人), from report to release."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)
    reported_via: Mapped[str] = mapped_column(String(12), nullable=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    reported_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    people_trapped: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cause: Mapped[str | None] = mapped_column(Text, nullable=True)
    arrival_target_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    late_arrival: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Hazard(Base):
    """A hazard in its closed loop (隐患闭环): 发现 found → 已下发 issued → 整改中 rectifying →
    待验证 to_verify → 已销号 closed, every transition an entry."""

    __tablename__ = "hazards"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), nullable=False, index=True)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"), nullable=False, index=True)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    source_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    level: Mapped[str] = mapped_column(String(10), nullable=False)
    colour: Mapped[str] = mapped_column(String(10), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    responsible_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    deadline: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    supervised: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    escalations: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    opened_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    updated_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    closed_by_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The person of the inspector's bureau who follows the hazard up (跟进); None until assigned.
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)

    __table_args__ = (Index("ix_hazards_status_deadline", "status", "deadline"),)


class PublicReport(Base):
    """A problem reported from the public equipment page; the contact is never shown again."""

    __tablename__ = "public_reports"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    equipment_id: Mapped[int] = mapped_column(ForeignKey("equipment.id"), nullable=False, index=True)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    contact: Mapped[str | None] = mapped_column(String(200), nullable=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id"), nullable=True)


class Alert(Base):
    """Something overdue or untraced, keyed by (rule, subject, due date) so that a rule run twice
    raises it once; raised and resolved by ledger entries (``alert.raised``, ``alert.resolved``)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(40), nullable=False)
    subject: Mapped[str] = mapped_column(String(2048), nullable=False)
    due_date: Mapped[date] = mapped_column(Date, nullable=False)
    label: Mapped[str] = mapped_column(String(300), nullable=False)
    grid_code: Mapped[str | None] = mapped_column(ForeignKey("grids.code"), nullable=True, index=True)
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), nullable=True, index=True)
    category: Mapped[str | None] = mapped_column(String(4), nullable=True)
    maintenance_org_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    user_org_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    colour: Mapped[str] = mapped_column(String(10), nullable=False)
    days_overdue: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    evidence: Mapped[list[int]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(14), nullable=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    raised_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    updated_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    acknowledged_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    hazard_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    satisfied_by_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (
        UniqueConstraint("rule", "subject", "due_date", name="uq_alerts_rule_subject_due"),
        Index("ix_alerts_status_rule", "status", "rule"),
        Index("ix_alerts_opened_resolved", "opened_at", "resolved_at"),
    )


class RiskGrade(Base):
    """The latest risk grade (A low … D high) of a business or a unit, with its reasons."""

    __tablename__ = "risk_grades"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)  # org:{id} or equipment:{code}
    grid_code: Mapped[str | None] = mapped_column(ForeignKey("grids.code"), nullable=True, index=True)
    grade: Mapped[str] = mapped_column(String(1), nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    graded_on: Mapped[date] = mapped_column(Date, nullable=False)
    graded_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Draw(Base):
    """A random inspection draw (双随机): announced first (``draw.announced`` with its inputs),
    drawn with the root hash of the first checkpoint signed after the announcement as its seed."""

    __tablename__ = "draws"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    announced_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code"), nullable=False, index=True)
    announced_by: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False)
    announced_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    seed_tree_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    drawn_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)
    outcome: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)


class DrawResult(Base):
    """The inspection result for one drawn subject, published with the draw (一公开)."""

    __tablename__ = "draw_results"

    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    result: Mapped[str] = mapped_column(String(20), nullable=False)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)


class Webhook(Base):
    """An organisation's endpoint for its alerts, each delivery signed with HMAC-SHA256."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), nullable=False, index=True)
    url: Mapped[str] = mapped_column(String(2000), nullable=False)
    secret: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookDelivery(Base):
    """One notification to one webhook, retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), nullable=False)
    event: Mapped[str] = mapped_column(String(40), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
    )


class Witness(Base):
    """An organisation outside the operator that cosigns the ledger's checkpoints (C2SP
    tlog-cosignature); registered by an admin through a ``witness.registered`` entry."""

    __tablename__ = "witnesses"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    key_id: Mapped[bytes] = mapped_column(LargeBinary(4), nullable=False)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False, unique=True)
    verifier_key: Mapped[str] = mapped_column(String(300), nullable=False)
    organisation: Mapped[str] = mapped_column(String(200), nullable=False)
    registered_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)


class WitnessCosignature(Base):
    """A witness's latest cosignature of one checkpoint, the exact signature line it sent.
    Not a ledger entry: entries about checkpoints would grow the tree they vouch for."""

    __tablename__ = "witness_cosignatures"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(ForeignKey("ledger_checkpoints.tree_size"), nullable=False)
    witness_id: Mapped[int] = mapped_column(ForeignKey("witnesses.id"), nullable=False)
    timestamp: Mapped[int] = mapped_column(BigInteger, nullable=False)  # the cosignature's, POSIX seconds
    line: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)

    __table_args__ = (UniqueConstraint("tree_size", "witness_id"),)
