"""A local GitHub REST API simulator for integration tests and benchmarks.

    from tests.simulators.github import Dataset, Faults, GitHubSimulator

    data = Dataset.generate(["octo-org/repo-a"], commits_per_repo=200, seed=7)
    with GitHubSimulator(data, faults=Faults(rate=0.05, seed=1)) as sim:
        ...  # point the connector at sim.base_url

See tests/simulators/README.md.
"""

from ..common.faults import KINDS as FAULT_KINDS
from ..common.faults import PASS, Faults, Script
from .apps import App, generate_keys
from .auth import DeviceFlow, TokenAuth
from .data import Dataset, RepoData
from .server import GitHubSimulator

__all__ = ["App", "Dataset", "DeviceFlow", "FAULT_KINDS", "Faults", "GitHubSimulator", "PASS",
           "RepoData", "Script", "TokenAuth", "generate_keys"]
