"""dihub: engineering data from GitHub, GitLab, Jira, Slack and git in one store."""

import sys

__version__ = "0.1.0"

# `import httpx` also imports httpx's own command-line client (click, rich's console and
# pygments' lexers: ~0.05 s and ~6 MB of every dihub process), unless that module is
# missing, which httpx handles itself (`httpx.main` then asks for the `httpx[cli]` extra).
# dihub never runs httpx's client, so it marks the module absent before httpx is imported
# (docs/architecture.md, "Start-up").
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)
