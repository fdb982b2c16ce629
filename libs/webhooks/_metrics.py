"""The Prometheus counters of webhook delivery, in the process registry the mesh serves on METRICS_PORT."""

from __future__ import annotations

from lucid_tron.mesh import metrics

_ATTEMPTS = metrics.counter(
    "lucid_webhook_attempts_total",
    "Webhook delivery attempts by outcome: succeeded (2xx), retried (failed, tried again later), "
    "dead_letter (the last allowed attempt failed)",
    ["outcome"],
)
SUCCEEDED = _ATTEMPTS.labels("succeeded")
RETRIED = _ATTEMPTS.labels("retried")
DEAD_LETTERED = _ATTEMPTS.labels("dead_letter")
ENDPOINTS_DISABLED = metrics.counter(
    "lucid_webhook_endpoints_disabled_total", "Webhook endpoints disabled after a streak of failed attempts"
)
