"""Products and coded batches (赋码): the pure rules of the food side."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.domain.clock import parse_date
from ledger.domain.gs1 import normalize_gtin, validate_lot
from ledger.domain.orgs import validate_text
from ledger.errors import InvalidEntry

# Allowed temperature band per storage class, in °C (None: no bound).  FIELD.md: frozen ≤ −18,
# chilled 0–4, fresh produce 0–8, ambient unbounded.  A product may narrow or override it.
STORAGE_CLASSES: dict[str, tuple[float | None, float | None]] = {
    "frozen": (None, -18.0),
    "chilled": (0.0, 4.0),
    "fresh": (0.0, 8.0),
    "ambient": (None, None),
}
DOCUMENT_TYPES = ("inspection_quarantine", "customs_declaration", "disinfection", "test_report")
CANONICAL_HOST = "https://id.gs1.org"  # subjects use GS1's canonical host, stable across deployments
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEntry(f"{what} must be a number")
    return float(value)


def _optional_text(body: dict[str, Any], key: str, what: str, limit: int = 200) -> str | None:
    value = body.get(key)
    return None if value in (None, "") else validate_text(value, what, limit)


def _strict_keys(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidEntry(f"unknown field(s): {', '.join(unknown)}")


@dataclass(frozen=True)
class ProductSpec:
    gtin: str
    name_zh: str
    name_en: str | None
    brand: str | None
    category: str
    storage_class: str
    temp_min_c: float | None
    temp_max_c: float | None
    max_reading_gap_minutes: int | None
    origin_country: str | None

    def payload(self, producer: str) -> dict[str, Any]:
        return {"producer_org_id": producer, **self.__dict__}


PRODUCT_FIELDS = {
    "gtin", "name_zh", "name_en", "brand", "category", "storage_class",
    "temp_min_c", "temp_max_c", "max_reading_gap_minutes", "origin_country",
}  # fmt: skip


def product_spec(body: dict[str, Any]) -> ProductSpec:
    _strict_keys(body, PRODUCT_FIELDS)
    storage = body.get("storage_class")
    if not isinstance(storage, str) or storage not in STORAGE_CLASSES:
        raise InvalidEntry(f"storage_class must be one of {', '.join(STORAGE_CLASSES)}")
    low, high = STORAGE_CLASSES[storage]
    if body.get("temp_min_c") is not None:
        low = _number(body["temp_min_c"], "temp_min_c")
    if body.get("temp_max_c") is not None:
        high = _number(body["temp_max_c"], "temp_max_c")
    if low is not None and high is not None and low > high:
        raise InvalidEntry("temp_min_c must not be above temp_max_c")
    gap = body.get("max_reading_gap_minutes")
    if gap is not None and (isinstance(gap, bool) or not isinstance(gap, int) or not 1 <= gap <= 7 * 24 * 60):
        raise InvalidEntry("max_reading_gap_minutes must be a whole number of minutes from 1 to 10080")
    country = body.get("origin_country")
    if country is not None and (not isinstance(country, str) or not _COUNTRY.match(country)):
        raise InvalidEntry("origin_country must be an ISO 3166 two-letter code such as NZ")
    return ProductSpec(
        gtin=normalize_gtin(str(body.get("gtin", ""))),
        name_zh=validate_text(body.get("name_zh"), "name_zh"),
        name_en=_optional_text(body, "name_en", "name_en"),
        brand=_optional_text(body, "brand", "brand"),
        category=validate_text(body.get("category"), "category", 100),
        storage_class=storage,
        temp_min_c=low,
        temp_max_c=high,
        max_reading_gap_minutes=gap,
        origin_country=country,
    )


BATCH_FIELDS = {
    "gtin", "lot", "site_id", "origin", "production_date", "expiry_date", "quantity", "unit", "documents",
}  # fmt: skip
ORIGIN_FIELDS = ("country", "province", "city", "place")


def _origin(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - set(ORIGIN_FIELDS) or not value.get("country"):
        raise InvalidEntry(f"origin must be an object with country and optionally {', '.join(ORIGIN_FIELDS[1:])}")
    origin = {key: validate_text(value[key], f"origin.{key}", 200) for key in ORIGIN_FIELDS if value.get(key)}
    if not _COUNTRY.match(origin["country"]):
        raise InvalidEntry("origin.country must be an ISO 3166 two-letter code such as CN")
    return origin


def _documents(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 50:
        raise InvalidEntry("documents must be a list of at most 50 documents")
    documents = []
    for index, doc in enumerate(value):
        if not isinstance(doc, dict) or set(doc) - {"type", "number", "sha256"}:
            raise InvalidEntry(f"documents[{index}] must have type, number and optionally sha256")
        if doc.get("type") not in DOCUMENT_TYPES:
            raise InvalidEntry(f"documents[{index}].type must be one of {', '.join(DOCUMENT_TYPES)}")
        entry = {"type": doc["type"], "number": validate_text(doc.get("number"), f"documents[{index}].number", 100)}
        if doc.get("sha256") is not None:
            if not isinstance(doc["sha256"], str) or not _SHA256.match(doc["sha256"]):
                raise InvalidEntry(f"documents[{index}].sha256 must be 64 lowercase hex digits")
            entry["sha256"] = doc["sha256"]
        documents.append(entry)
    return documents


@dataclass(frozen=True)
class BatchSpec:
    gtin: str
    lot: str
    site_id: int
    origin: dict[str, str]
    production_date: date
    expiry_date: date | None
    quantity: float
    unit: str
    documents: list[dict[str, str]]

    def payload(self, producer: str, grid_code: str) -> dict[str, Any]:
        return {
            "producer_org_id": producer,
            "gtin": self.gtin,
            "lot": self.lot,
            "site_id": self.site_id,
            "grid_code": grid_code,
            "origin": self.origin,
            "production_date": self.production_date.isoformat(),
            "expiry_date": self.expiry_date.isoformat() if self.expiry_date else None,
            "quantity": self.quantity,
            "unit": self.unit,
            "documents": self.documents,
        }


def batch_spec(body: dict[str, Any]) -> BatchSpec:
    _strict_keys(body, BATCH_FIELDS)
    site = body.get("site_id")
    if isinstance(site, bool) or not isinstance(site, int):
        raise InvalidEntry("site_id must be the id of one of your registered sites")
    produced = parse_date(body.get("production_date"), "production_date")
    expiry = parse_date(body["expiry_date"], "expiry_date") if body.get("expiry_date") else None
    if expiry is not None and expiry < produced:
        raise InvalidEntry("expiry_date must not be before production_date")
    quantity = _number(body.get("quantity"), "quantity")
    if not 0 < quantity <= 1e9:
        raise InvalidEntry("quantity must be positive")
    return BatchSpec(
        gtin=normalize_gtin(str(body.get("gtin", ""))),
        lot=validate_lot(str(body.get("lot", ""))),
        site_id=site,
        origin=_origin(body.get("origin")),
        production_date=produced,
        expiry_date=expiry,
        quantity=quantity,
        unit=validate_text(body.get("unit"), "unit", 20),
        documents=_documents(body.get("documents")),
    )
