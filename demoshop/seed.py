"""Deterministic, realistic seed data: the same customers, orders and payment stories on every machine.

The random generator is seeded, so ids, names, items, amounts and statuses never change; dates are laid
relative to the moment of seeding, so "shipped two days ago, arriving tomorrow" stays true on first start.
The first customers carry hand-picked stories (see SHOWCASE) that docs/demoshop.md and the tests name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from demoshop.models import RETURN_LABEL_URL, Charge, Customer, Order, OrderItem, Refund, Return, ReturnItem, Shipment

FIRST_NAMES = [
    "Anna",
    "Daan",
    "Sophie",
    "Lucas",
    "Emma",
    "Noah",
    "Julia",
    "Finn",
    "Lotte",
    "Sem",
    "Mila",
    "Jonas",
    "Lena",
    "Felix",
    "Hannah",
    "Maximilian",
    "Charlotte",
    "Oliver",
    "Amelia",
    "Harry",
    "Isla",
    "Jack",
    "Chloé",
    "Louis",
    "Camille",
    "Hugo",
    "Elif",
    "Yusuf",
    "Priya",
    "Arjun",
    "Zofia",
    "Mateusz",
    "Giulia",
    "Marco",
    "Inès",
    "Tomás",
    "Freya",
    "Mohammed",
    "Sanne",
    "Thijs",
    "Femke",
    "Bram",
    "Aoife",
    "Ciarán",
    "Nora",
    "Lars",
    "Ingrid",
    "Wout",
    "Margot",
    "Pieter",
]
LAST_NAMES = [
    "Dekker",
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "de Boer",
    "Peeters",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Wagner",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Dubois",
    "Lambert",
    "Martin",
    "Yılmaz",
    "Kaya",
    "Patel",
    "Sharma",
    "Kowalski",
    "Nowak",
    "Rossi",
    "Bianchi",
    "García",
    "O'Brien",
    "Murphy",
    "Nielsen",
    "Hansen",
    "Claes",
    "Maes",
    "Willems",
    "Koster",
]
ADDRESSES = {
    "NL": [
        ("Keizersgracht", "1015 CJ", "Amsterdam"),
        ("Oudegracht", "3511 AL", "Utrecht"),
        ("Witte de Withstraat", "3012 BP", "Rotterdam"),
        ("Grote Markt", "2511 BG", "Den Haag"),
        ("Stratumseind", "5611 ER", "Eindhoven"),
        ("Vismarkt", "9712 CA", "Groningen"),
    ],
    "BE": [("Meir", "2000", "Antwerpen"), ("Veldstraat", "9000", "Gent"), ("Rue Neuve", "1000", "Bruxelles")],
    "DE": [
        ("Hauptstraße", "10115", "Berlin"),
        ("Schanzenstraße", "20357", "Hamburg"),
        ("Ehrenstraße", "50672", "Köln"),
        ("Leopoldstraße", "80802", "München"),
    ],
    "FR": [("Rue de la République", "69002", "Lyon"), ("Rue Oberkampf", "75011", "Paris")],
    "GB": [
        ("Mill Road", "CB1 2AD", "Cambridge"),
        ("Stokes Croft", "BS1 3QY", "Bristol"),
        ("Deansgate", "M3 4LQ", "Manchester"),
    ],
    "IE": [("Camden Street", "D02 XE80", "Dublin")],
}
COUNTRY_WEIGHTS = [("NL", 40), ("DE", 22), ("BE", 14), ("GB", 10), ("FR", 8), ("IE", 6)]
PHONE_PREFIX = {"NL": "+31 6", "BE": "+32 470", "DE": "+49 151", "FR": "+33 6", "GB": "+44 7700", "IE": "+353 85"}
CATALOGUE = [
    ("LH-LMP-014", "Arco brass floor lamp", 18900),
    ("LH-LMP-022", "Opal glass table lamp", 6450),
    ("LH-RUG-105", "Berber wool rug 160x230", 32900),
    ("LH-RUG-031", "Washable cotton runner 70x200", 7900),
    ("LH-DUV-200", "Organic cotton duvet cover, double", 8995),
    ("LH-DUV-240", "Linen duvet cover, king", 13900),
    ("LH-PIL-010", "Hotel pillow, medium", 3495),
    ("LH-THR-070", "Chunky knit throw, oat", 5995),
    ("LH-VAS-303", "Handblown vase, smoke", 4250),
    ("LH-VAS-310", "Stoneware bud vase set", 2495),
    ("LH-MUG-011", "Speckled mug, set of 4", 3200),
    ("LH-PLT-040", "Stoneware dinner plates, set of 6", 7450),
    ("LH-KNF-120", "Chef's knife 20 cm", 8900),
    ("LH-PAN-055", "Cast iron casserole 4 L", 11900),
    ("LH-CHR-401", "Oak dining chair", 21900),
    ("LH-CHR-415", "Rattan lounge chair", 34900),
    ("LH-TBL-510", "Round side table, walnut", 15900),
    ("LH-SHF-222", "Wall shelf, ash 80 cm", 5900),
    ("LH-CUR-600", "Linen curtain panel 140x260", 6900),
    ("LH-CUR-610", "Blackout curtain pair", 8900),
    ("LH-CND-090", "Scented candle, fig", 2450),
    ("LH-BSK-130", "Seagrass basket, large", 3950),
    ("LH-MIR-700", "Round mirror 60 cm", 12900),
    ("LH-TWL-300", "Waffle towel set", 4950),
    ("LH-APR-020", "Linen apron", 2995),
    ("LH-SLP-044", "Felt slippers", 3495),
    ("LH-CLK-150", "Wall clock, beech", 5450),
    ("LH-PLN-088", "Terracotta planter 30 cm", 2750),
]
CARRIERS = {"NL": "PostNL", "BE": "DPD", "DE": "DHL", "FR": "GLS", "GB": "UPS", "IE": "DPD"}
METHODS = [
    ("card", "Visa •••• 4242"),
    ("card", "Mastercard •••• 5454"),
    ("paypal", "PayPal"),
    ("ideal", "iDEAL ING"),
    ("klarna", "Klarna Pay later"),
    ("card", "Amex •••• 0005"),
    ("apple_pay", "Apple Pay"),
]
STATUS_WEIGHTS = [("delivered", 38), ("shipped", 16), ("paid", 12), ("pending", 8), ("cancelled", 12), ("returned", 14)]

FIRST_ORDER_ID = 10001
N_CUSTOMERS = 60
N_ORDERS = 240


@dataclass
class Story:
    """A hand-picked case that every seeded shop contains."""

    status: str
    days_ago: int
    refund: str | None = None  # issued | pending | failed | partial
    payment: str | None = None  # failed | double | retry_ok
    return_stage: str | None = None  # requested | in_transit: a return on its way back


# Orders 10001.. belong to the first customers, in this order: the cases the demos and tests rely on.
SHOWCASE = [
    ("C1001", Story("returned", 20, refund="issued")),
    ("C1001", Story("shipped", 2)),
    ("C1001", Story("delivered", 9)),
    ("C1002", Story("returned", 12, refund="pending")),
    ("C1002", Story("delivered", 6, refund="partial")),
    ("C1003", Story("returned", 25, refund="failed")),
    ("C1003", Story("paid", 0)),
    ("C1004", Story("pending", 0, payment="failed")),
    ("C1004", Story("delivered", 15, payment="double")),
    ("C1005", Story("cancelled", 4, refund="issued")),
    ("C1005", Story("delivered", 45)),
    ("C1006", Story("paid", 1, payment="retry_ok")),
]
# Orders after the random ones (10241..): delivered orders with a return on its way. Added last, so every order
# before them is the same as before returns existed. Returned orders, and delivered ones with a partial return's
# refund, get their received return too (`Seeder.received_returns`).
RETURN_SHOWCASE = [
    ("C1007", Story("delivered", 10, return_stage="in_transit")),
    ("C1008", Story("delivered", 6, return_stage="requested")),
]


def seed_if_empty(session: Session, seed: int, now: datetime | None = None) -> bool:
    """Fill an empty database; leave a populated one alone. Returns whether it seeded."""
    if session.execute(select(func.count()).select_from(Customer)).scalar_one():
        return False
    Seeder(session, random.Random(seed), (now or datetime.utcnow()).replace(minute=0, second=0, microsecond=0)).run()
    return True


class Seeder:
    """Builds the customers and their orders with one random generator, in one fixed order."""

    def __init__(self, session: Session, rng: random.Random, now: datetime):
        self.s, self.rng, self.now = session, rng, now
        self.next_order = FIRST_ORDER_ID
        self.serial = 0

    def run(self) -> None:
        customers = [self.customer(i) for i in range(N_CUSTOMERS)]
        for customer_id, story in SHOWCASE:
            self.order(customers[int(customer_id[1:]) - 1001], story)
        while self.next_order < FIRST_ORDER_ID + N_ORDERS:
            self.order(self.rng.choice(customers), self.random_story())
        self.s.flush()
        self.received_returns()
        for customer_id, story in RETURN_SHOWCASE:
            order = self.order(customers[int(customer_id[1:]) - 1001], story)
            self.open_return(order, story)
        self.s.flush()

    def ident(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}_{self.rng.getrandbits(40):010x}{self.serial:04d}"

    def customer(self, index: int) -> Customer:
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = LAST_NAMES[(index * 7 + 3) % len(LAST_NAMES)]
        country = self.weighted(COUNTRY_WEIGHTS)
        street, postcode, city = self.rng.choice(ADDRESSES[country])
        local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        local = local.translate(str.maketrans("éèüöıçñá", "eeuoicna"))
        created = self.now - timedelta(days=self.rng.randint(60, 900))
        customer = Customer(
            id=f"C{1001 + index}",
            first_name=first,
            last_name=last,
            email=f"{local}{'' if index < 50 else index}@example.com",
            phone=f"{PHONE_PREFIX[country]} {self.rng.randint(1000000, 9999999)}",
            address_line1=f"{street} {self.rng.randint(1, 220)}",
            address_line2=None,
            city=city,
            postcode=postcode,
            country=country,
            created_at=created,
            updated_at=created,
        )
        self.s.add(customer)
        return customer

    def random_story(self) -> Story:
        status = self.weighted(STATUS_WEIGHTS)
        days = {
            "pending": (0, 0),
            "paid": (0, 2),
            "shipped": (1, 5),
            "delivered": (5, 110),
            "cancelled": (1, 80),
            "returned": (14, 100),
        }[status]
        story = Story(status, self.rng.randint(*days))
        if status == "returned":
            story.refund = self.rng.choice(["issued", "issued", "issued", "pending", "partial", "failed"])
        elif status == "cancelled":
            story.refund = self.rng.choice(["issued", "issued", None])  # None: cancelled before payment
        elif status == "delivered" and self.rng.random() < 0.08:
            story.refund = "partial"
        elif status == "pending" and self.rng.random() < 0.3:
            story.payment = "failed"
        elif status in ("paid", "delivered") and self.rng.random() < 0.04:
            story.payment = "double"
        return story

    def order(self, customer: Customer, story: Story) -> Order:
        order_id = str(self.next_order)
        self.next_order += 1
        placed = self.now - timedelta(days=story.days_ago, hours=self.rng.randint(1, 20))
        if story.days_ago == 0:
            placed = self.now - timedelta(minutes=self.rng.randint(20, 300))
        currency = "GBP" if customer.country == "GB" else "EUR"
        lines = self.rng.sample(CATALOGUE, k=self.rng.choice([1, 1, 2, 2, 3, 4]))
        items = [
            OrderItem(sku=sku, name=name, quantity=self.rng.choice([1, 1, 1, 2]), unit_price_cents=price)
            for sku, name, price in lines
        ]
        subtotal = sum(i.quantity * i.unit_price_cents for i in items)
        shipping = self.shipping_cost(customer.country, subtotal)
        order = Order(
            id=order_id,
            customer_id=customer.id,
            status=story.status,
            currency=currency,
            subtotal_cents=subtotal,
            shipping_cents=shipping,
            total_cents=subtotal + shipping,
            ship_name=f"{customer.first_name} {customer.last_name}",
            ship_line1=customer.address_line1,
            ship_line2=None,
            ship_city=customer.city,
            ship_postcode=customer.postcode,
            ship_country=customer.country,
            placed_at=placed,
            updated_at=placed,
            items=items,
        )
        self.s.add(order)
        method, detail = self.rng.choice(METHODS)
        self.payments(order, story, placed, method, detail)
        if story.status in ("shipped", "delivered", "returned"):
            self.shipment(order, story, placed, customer.country)
        if story.status == "cancelled":
            order.cancelled_at = placed + timedelta(hours=self.rng.randint(1, 20))
            order.cancel_reason = self.rng.choice(
                ["ordered by mistake", "found it cheaper", "wrong size", "customer request"]
            )
            order.updated_at = order.cancelled_at
        if story.refund:
            self.refund(order, story)
        return order

    def shipping_cost(self, country: str, subtotal: int) -> int:
        if country in ("NL", "BE", "DE"):
            return 0 if subtotal >= 5000 else 495
        return 995 if country == "GB" else 795

    def payments(self, order: Order, story: Story, placed: datetime, method: str, detail: str) -> None:
        def charge(status: str, at: datetime, reason: str | None = None) -> Charge:
            c = Charge(
                id=self.ident("ch"),
                amount_cents=order.total_cents,
                currency=order.currency,
                method=method,
                method_detail=detail,
                status=status,
                failure_reason=reason,
                created_at=at,
            )
            order.charges.append(c)
            return c

        paid = story.status != "pending" and not (story.status == "cancelled" and story.refund is None)
        if story.payment in ("failed", "retry_ok") or (story.status == "cancelled" and not paid):
            charge(
                "failed",
                placed + timedelta(minutes=1),
                "card declined by issuer" if method == "card" else "payment not completed",
            )
        if paid:
            charge("succeeded", placed + timedelta(minutes=3))
        if story.payment == "double":
            charge("succeeded", placed + timedelta(minutes=4))  # the same amount taken twice

    def shipment(self, order: Order, story: Story, placed: datetime, country: str) -> None:
        carrier = CARRIERS[country]
        shipped = placed + timedelta(days=1 if story.days_ago >= 1 else 0, hours=6)
        transit = {"NL": 1, "BE": 2, "DE": 2, "FR": 4, "IE": 4, "GB": 5}[country]
        eta = (shipped + timedelta(days=transit)).date()
        if story.status == "shipped" and eta <= self.now.date():
            eta = self.now.date() + timedelta(days=1)
        delivered = None
        if story.status in ("delivered", "returned"):
            delivered = min(shipped + timedelta(days=transit, hours=5), self.now - timedelta(hours=2))
        number = f"{carrier[:2].upper()}{self.rng.randint(10**9, 10**10 - 1)}NL"
        order.shipment = Shipment(
            carrier=carrier,
            tracking_number=number,
            tracking_url=f"https://track.larkspurhome.example/{carrier.lower()}/{number}",
            shipped_at=shipped,
            estimated_delivery=eta,
            delivered_at=delivered,
        )
        order.updated_at = delivered or shipped

    def refund(self, order: Order, story: Story) -> None:
        succeeded = [c for c in order.charges if c.status == "succeeded"]
        if not succeeded:
            return
        charge = succeeded[0]
        base = order.updated_at if story.status != "cancelled" else order.cancelled_at
        created = min(base + timedelta(days=self.rng.randint(2, 6)), self.now - timedelta(hours=3))
        amount, reason, status = charge.amount_cents, "returned", story.refund
        if story.status == "cancelled":
            reason = "order cancelled"
        if story.refund == "partial":
            item = order.items[0]
            amount, status = item.unit_price_cents, "issued"
            reason = f"partial return: {item.name}"
            if amount >= charge.amount_cents:  # a one-item order: a goodwill refund of half instead
                amount, reason = charge.amount_cents // 2, f"goodwill refund: {item.name} arrived damaged"
        refund = Refund(
            id=self.ident("re"),
            charge_id=charge.id,
            amount_cents=amount,
            currency=charge.currency,
            method=charge.method,
            status=status,
            reason=reason,
            created_at=created,
        )
        if status == "issued":
            refund.issued_at = min(created + timedelta(days=1), self.now - timedelta(hours=1))
        if status == "failed":
            refund.failure_reason = "card account closed" if charge.method == "card" else "payment provider rejected"
        order.refunds.append(refund)

    def received_returns(self) -> None:
        """The return behind every returned order (all its items) and every partial return's refund (one item)."""
        orders = self.s.execute(select(Order).order_by(Order.id)).scalars().all()
        for order in orders:
            refund = order.refunds[0] if order.refunds else None
            if order.status == "returned":
                self.add_return(order, [(i, i.quantity) for i in order.items], refund)
            elif order.status == "delivered" and refund is not None and refund.reason.startswith("partial return"):
                self.add_return(order, [(order.items[0], 1)], refund)

    def add_return(self, order: Order, lines: list, refund: Refund | None) -> None:
        """A received return whose arrival started `refund`, laid between the delivery and that refund."""
        assert order.shipment is not None and order.shipment.delivered_at is not None
        delivered = order.shipment.delivered_at
        received = refund.created_at if refund is not None else min(delivered + timedelta(days=3), self.now)
        span = received - delivered
        self.s.add(
            self.new_return(
                order,
                lines,
                stage="received",
                created=delivered + span * 0.2,
                shipped=delivered + span * 0.4,
                received=received,
                refund=refund,
            )
        )

    def open_return(self, order: Order, story: Story) -> None:
        """A return of every item of a delivered order, still on its way to the warehouse (or not yet sent)."""
        assert order.shipment is not None and order.shipment.delivered_at is not None
        created = min(order.shipment.delivered_at + timedelta(days=1), self.now - timedelta(hours=26))
        shipped = created + timedelta(days=1) if story.return_stage == "in_transit" else None
        lines = [(i, i.quantity) for i in order.items]
        self.s.add(
            self.new_return(order, lines, stage=story.return_stage or "requested", created=created, shipped=shipped)
        )

    def new_return(
        self,
        order: Order,
        lines: list,
        *,
        stage: str,
        created: datetime,
        shipped: datetime | None = None,
        received: datetime | None = None,
        refund: Refund | None = None,
    ) -> Return:
        return_id = self.ident("rt")
        return Return(
            id=return_id,
            order_id=order.id,
            stage=stage,
            reason=self.rng.choice(["doesn't fit the room", "changed my mind", "colour not as expected", "too small"]),
            label_url=RETURN_LABEL_URL.format(return_id=return_id),
            refund=refund,
            created_at=created.replace(microsecond=0),
            updated_at=(received or shipped or created).replace(microsecond=0),
            shipped_at=shipped.replace(microsecond=0) if shipped else None,
            received_at=received,
            items=[ReturnItem(sku=item.sku, name=item.name, quantity=qty) for item, qty in lines],
        )

    def weighted(self, pairs):
        values, weights = zip(*pairs, strict=True)
        return self.rng.choices(values, weights=weights, k=1)[0]
