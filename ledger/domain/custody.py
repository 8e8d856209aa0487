"""Custody rules: who holds how much of which batch, and what a scan may change.

The rules (来源可查、去向可追): only a holder ships, sells, disposes or stores; nobody's stock
goes below zero; a receipt closes the oldest open shipment of that batch to the receiver, and
a receipt that matches none is still recorded, flagged as unexpected (a custody gap for the
inspector), never refused.  The state is loaded by the service; this module is pure, so the
same rules hold for one scan, a list of a thousand, and an EPCIS document.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.domain.scans import ScanSpec
from ledger.errors import InvalidEntry, LedgerError

EPSILON = 1e-9  # quantities are decimals sent as JSON numbers; compare with a little room

BatchKey = tuple[str, str]  # (gtin14, lot)


class CustodyViolation(LedgerError):
    """A scan contradicts who holds the goods: shipping what one does not hold, say."""

    title = "Custody violation"
    type = "custody-violation"
    status = 409


@dataclass
class Stock:
    quantity: float
    unit: str


@dataclass
class Shipment:
    """A ship scan not yet received.  ``ref`` is the scan's row id, or None while it is new."""

    ref: int | None
    gtin: str
    lot: str
    from_org: str
    to_org: str
    quantity: float
    unit: str
    received: bool = False


@dataclass(frozen=True)
class Outcome:
    counterparty: str | None  # ship: the receiver; receive: the sender (when known)
    matched: Shipment | None  # receive: the shipment it closes
    unexpected: bool  # receive: no open shipment to this organisation
    new_shipment: Shipment | None  # ship: the shipment it opens


@dataclass
class Custody:
    """Stock per (batch, holder) and the open shipments, as far as the scans at hand need."""

    stock: dict[tuple[str, str, str], Stock] = field(default_factory=dict)
    shipments: list[Shipment] = field(default_factory=list)

    def held(self, key: BatchKey, org: str) -> Stock | None:
        return self.stock.get((*key, org))

    def take(self, key: BatchKey, org: str, quantity: float, unit: str, verb: str) -> None:
        """Take ``quantity`` out of ``org``'s stock of a batch, refusing to go below zero."""
        gtin, lot = key
        stock = self.held(key, org)
        if stock is None or stock.quantity <= EPSILON:
            raise CustodyViolation(f"you do not hold batch {lot} of GTIN {gtin}, so you cannot {verb} it")
        _same_unit(lot, unit, stock.unit)
        if quantity > stock.quantity + EPSILON:
            raise CustodyViolation(
                f"you hold {stock.quantity:g} {stock.unit} of batch {lot}; cannot {verb} {quantity:g}"
            )
        stock.quantity = max(0.0, stock.quantity - quantity)

    def _give(self, spec: ScanSpec, org: str) -> None:
        stock = self.stock.setdefault((spec.gtin, spec.lot, org), Stock(0.0, spec.unit))
        _same_unit(spec.lot, spec.unit, stock.unit)
        stock.quantity += spec.quantity

    def _match(self, spec: ScanSpec, org: str) -> Shipment | None:
        for shipment in self.shipments:
            if (
                not shipment.received
                and (shipment.gtin, shipment.lot, shipment.to_org) == (spec.gtin, spec.lot, org)
                and spec.from_org_id in (None, shipment.from_org)
            ):
                return shipment
        return None

    def apply(self, spec: ScanSpec, org: str) -> Outcome:
        """Check ``spec`` made by ``org`` against the state and change the state by it."""
        if spec.action == "ship":
            if spec.to_org_id == org:
                raise CustodyViolation("a shipment goes to another organisation; use store to move goods in-house")
            self.take((spec.gtin, spec.lot), org, spec.quantity, spec.unit, "ship")
            shipment = Shipment(None, spec.gtin, spec.lot, org, str(spec.to_org_id), spec.quantity, spec.unit)
            self.shipments.append(shipment)
            return Outcome(spec.to_org_id, None, False, shipment)
        if spec.action == "receive":
            matched = self._match(spec, org)
            if matched is not None:
                matched.received = True
            self._give(spec, org)
            sender = matched.from_org if matched else spec.from_org_id
            return Outcome(sender, matched, matched is None, None)
        if spec.action == "store":
            stock = self.held((spec.gtin, spec.lot), org)
            if stock is None or spec.quantity > stock.quantity + EPSILON:
                held = f"{stock.quantity:g} {stock.unit}" if stock else "none"
                raise CustodyViolation(f"you hold {held} of batch {spec.lot}; cannot store {spec.quantity:g}")
            _same_unit(spec.lot, spec.unit, stock.unit)
            return Outcome(None, None, False, None)
        self.take(
            (spec.gtin, spec.lot), org, spec.quantity, spec.unit, "sell" if spec.action == "sell" else "dispose of"
        )
        return Outcome(None, None, False, None)


def _same_unit(lot: str, sent: str, counted: str) -> None:
    if sent != counted:
        raise InvalidEntry(f"batch {lot} is counted in {counted}, not {sent}")
