"""HQ (总部): the authoritative loyalty ledger and the API tills sync with.

Shares ``pos_app.core`` with the till and nothing else (``tests/test_architecture.py``).

* ``models``, ``database``: the PostgreSQL schema (migrations in ``db/hq``) and the
  writer lock that orders every change.
* ``events``, ``ledger``, ``holds``: applying pushed events, posting points with lots,
  spend holds.
* ``sync``: push (idempotent, one transaction per event) and pull (by cursor).
* ``admin``, ``jobs``: administration, expiry and the yearly tier review.
* ``app``, ``cli``: the FastAPI app and ``pos-hq``. The protocol is in ``docs/sync.md``.
"""
