"""payment-gateway's MongoDB: idempotency keys of CreateInvoice, the outbox of invoice events (paid, expired,
cancelled) committed with the invoice's change, the chain watcher's lease, and the audit log of every credit."""

from __future__ import annotations

from lucid_tron.storage import MoneyJobStore


class PaymentGatewayStore(MoneyJobStore):
    """Idempotency keys, outbox, leases and audit log; the invoices come with the issue that builds the service."""

    service = "payment-gateway"
