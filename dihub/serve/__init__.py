"""`dihub serve`: webhooks in, an HTTP read API and a dashboard out.

One long-running process (FastAPI on uvicorn) sharing the store, normalizers,
record ids and content signatures of the pollers, so a record received by
webhook and the same record polled later are one record.

* app.py      routes, authentication, body limit, the inbox write (durable before 2xx)
* verify.py   signature checks (HMAC-SHA256, hmac.compare_digest)
* sources.py  which configured source a delivery belongs to; webhook secrets
* worker.py   the inbox thread: claim due deliveries, process them (dihub/inbox) or hand
              them to the queue (dihub/queue)
* health.py, syncs.py, dashboard.py: /api/health, POST /api/sync, /
"""
