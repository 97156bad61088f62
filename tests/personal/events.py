"""Event classes with personal fields, shared by the personal-data tests."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import msgspec

from eventbook.personal import PersonalData

Customer = PersonalData(subject="customer_id")


class Address(msgspec.Struct, frozen=True):
    street: str
    city: str
    country: str


class Registered(msgspec.Struct, frozen=True):
    customer_id: str
    name: Annotated[str, Customer]
    email: Annotated[str | None, Customer]
    address: Annotated[Address, Customer]
    plan: str


class Moved(msgspec.Struct, frozen=True):
    customer_id: str
    address: Annotated[Address, Customer]


class Parcel(msgspec.Struct, frozen=True):
    recipient: Annotated[str, Customer]  # marked inside the record; its subject is the event's
    country: str


class Shipped(msgspec.Struct, frozen=True):
    customer_id: str
    parcel: Parcel


class Counted(msgspec.Struct, frozen=True):
    amount: int


@dataclasses.dataclass(frozen=True)
class Labelled:
    customer_id: str
    label: Annotated[str, Customer]


def registered(customer: str = "c-1", name: str = "Ada Lovelace") -> Registered:
    return Registered(
        customer,
        name,
        "ada@example.org",
        Address("12 Analytical Street", "London", "GB"),
        "gold",
    )
