"""Webhook deliveries -> records, below both `dihub serve` (which stores deliveries and
processes them in its inbox thread) and the queue (whose `dihub worker` processes the
batches a server handed over).

* process.py  one delivery -> records with the connectors' normalize functions
* batch.py    a claimed batch: records, audit, outcomes, retries, metrics; Stats
"""
