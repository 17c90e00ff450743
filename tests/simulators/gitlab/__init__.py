"""A local GitLab REST API v4 simulator for integration tests and benchmarks.

    from tests.simulators.gitlab import Dataset, Faults, GitLabSimulator

    data = Dataset.generate(["group-a/sub/project-a"], commits_per_project=200, seed=7)
    with GitLabSimulator(data, faults=Faults(rate=0.05, seed=1)) as sim:
        ...  # point the connector at sim.base_url (the API is sim.base_url + "/api/v4")

See tests/simulators/README.md.
"""

from ..common.faults import KINDS as FAULT_KINDS
from ..common.faults import PASS, Script
from .auth import DeviceFlow, Token, TokenAuth
from .data import Dataset, Person, ProjectData
from .faults import Faults
from .server import GitLabSimulator, RateLimit

__all__ = ["FAULT_KINDS", "PASS", "Dataset", "DeviceFlow", "Faults", "GitLabSimulator",
           "Person", "ProjectData", "RateLimit", "Script", "Token", "TokenAuth"]
