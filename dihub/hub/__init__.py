"""The hub: what joins the sources' records, computed from the store only.

* `dihub.hub.dataset.Dataset`: how the hub (and the metrics built on it) read stored
  records: every source, lookups by id, sha and issue key.
* `dihub.hub.identities`: people (accounts grouped into persons) and
  `Identities.person_id(source, user_id)`.
* `dihub.hub.links`: links between records (commit -> issue, PR -> commits, build ->
  commit, deploy message -> build/commit).
* `refresh(store, settings)`: recompute people and links from what was ingested since the
  last refresh (`full=True`: from everything); writes only what changed.
"""
