"""A local Jira simulator (Cloud or Data Center) for integration tests and benchmarks.

    from tests.simulators.jira import Credentials, Dataset, JiraSimulator, jira_faults

    data = Dataset.generate(5000, sprints=50, boards=3, seed=7)
    with JiraSimulator(data, credentials=Credentials("tok", "bot@example.com"),
                       faults=jira_faults(0.05)) as sim:
        ...  # point the connector at sim.base_url (deployment: cloud)

Paging as Jira: /rest/api/3/search/jql with nextPageToken/isLast (a keyset token tied
to the JQL), /rest/api/2/search with startAt/total (Data Center), changelog and Agile
pages with startAt/isLast. Rate limits answer 429 with Retry-After, X-RateLimit-Reset
(ISO 8601) and RateLimit-Reason. See tests/simulators/README.md.
"""

from .data import JPO_FIELD, SP_FIELD, SP_LEGACY, SPRINT_FIELD, Dataset, SimIssue, SimSprint
from .server import (
    JIRA_FAULTS,
    Credentials,
    JiraSimulator,
    RateLimit,
    jira_faults,
    rate_limited_reply,
)

__all__ = ["JIRA_FAULTS", "JPO_FIELD", "SPRINT_FIELD", "SP_FIELD", "SP_LEGACY", "Credentials",
           "Dataset", "JiraSimulator", "RateLimit", "SimIssue", "SimSprint", "jira_faults",
           "rate_limited_reply"]
