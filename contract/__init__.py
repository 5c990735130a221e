"""The backend contract the assistant and the retailer's systems share, defined once.

`contract.v1` holds the records of the v1 HTTP API as pydantic models. The demo shop serialises its
answers through them and the action server's clients parse answers with them, so the two processes cannot
drift apart. Both import this package; neither imports the other's.
"""
