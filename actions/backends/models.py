"""The typed records the backend clients return: the v1 contract's own models (`contract.v1`).

The demo shop writes its answers with the same models, so a field renamed or reordered on one side cannot
go unnoticed on the other. Money is `Decimal`, times are naive UTC `datetime`s, days are `date`s; every
record is immutable. Actions import the records from here.
"""

from contract.v1 import (
    Address,
    CancelResult,
    Charge,
    Customer,
    CustomerList,
    Invoice,
    NewTicket,
    Order,
    OrderItem,
    OrderPage,
    PaymentRecord,
    Refund,
    Return,
    ReturnItem,
    ReturnList,
    Shipment,
    Ticket,
    TicketList,
    TicketMessage,
    TranscriptLine,
    Verification,
    VerificationResult,
)

__all__ = [
    "Address",
    "CancelResult",
    "Charge",
    "Customer",
    "CustomerList",
    "Invoice",
    "NewTicket",
    "Order",
    "OrderItem",
    "OrderPage",
    "PaymentRecord",
    "Refund",
    "Return",
    "ReturnItem",
    "ReturnList",
    "Shipment",
    "Ticket",
    "TicketList",
    "TicketMessage",
    "TranscriptLine",
    "Verification",
    "VerificationResult",
]
