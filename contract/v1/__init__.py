"""The records of the v1 contract: CRM, orders, returns, payments and helpdesk (one module per system)."""

from contract.v1.crm import Address, Customer, CustomerList, Verification, VerificationResult
from contract.v1.helpdesk import NewTicket, Ticket, TicketList, TicketMessage, TranscriptLine
from contract.v1.orders import CancelResult, Invoice, Order, OrderItem, OrderPage, Shipment
from contract.v1.payments import Charge, PaymentRecord, Refund
from contract.v1.returns import Return, ReturnItem, ReturnList
from contract.v1.wire import IsoDate, Money, Record, UtcDateTime

__all__ = [
    "Address",
    "CancelResult",
    "Charge",
    "Customer",
    "CustomerList",
    "Invoice",
    "IsoDate",
    "Money",
    "NewTicket",
    "Order",
    "OrderItem",
    "OrderPage",
    "PaymentRecord",
    "Record",
    "Refund",
    "Return",
    "ReturnItem",
    "ReturnList",
    "Shipment",
    "Ticket",
    "TicketList",
    "TicketMessage",
    "TranscriptLine",
    "UtcDateTime",
    "Verification",
    "VerificationResult",
]
