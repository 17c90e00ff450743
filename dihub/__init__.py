"""dihub: engineering data from GitHub, GitLab, Jira, Slack and git in one store."""

__version__ = "0.1.0"
