"""The process's own Prometheus metrics: requests answered and worker jobs run.

With PROMETHEUS_MULTIPROC_DIR set (prometheus-client reads it when first imported), every
process on a host writes its counts to files there, and any web process's /metrics adds them
up: the web processes' requests and the workers' jobs alike. Only counters and histograms are
kept here, so files left by processes that have exited keep adding correctly to the totals.
What the database knows (the outbox, Canvas jobs, transitions) is read at scrape time instead
(api/metrics.py).
"""

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "microcred_http_requests", "HTTP requests answered, by route template and status",
    ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "microcred_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
WORKER_RUNS = Counter(
    "microcred_worker_runs",
    "Worker jobs run (email batches, Canvas jobs, reminder runs), by job and outcome",
    ["job", "outcome"])
EMAILS = Counter(
    "microcred_emails", "Emails the worker tried to send, by result (sent, retried, dead)",
    ["result"])
