"""`dihub auth jira`: log in with an API token, check it, keep it, use it, forget it.

The subprocess has no keyring (as on a headless server), so storing needs the
explicit --insecure-store-file opt-in (the refusal without it is a unit test); CI uses
`token_env` instead (the other integration tests).
"""

from __future__ import annotations

from tests.simulators.jira import Dataset, JiraSimulator
from tests.simulators.jira.testing import EMAIL, TOKEN, config, credentials, secret_forms


def test_login_status_sync_logout_without_a_keyring(dihub):
    dihub.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    ds = Dataset.generate(40, sprints=3, seed=2)
    with JiraSimulator(ds, credentials=credentials()) as sim:
        dihub.write_config(config(sim, token_env=False))

        wrong = dihub.run("auth", "jira", "--with-token", "--insecure-store-file",
                          input="wrong-token-value-1\n", check_code=1)
        assert "rejected the credentials" in wrong.stderr
        assert "dihub auth jira" in wrong.stderr and "API token" in wrong.stderr
        assert not list(dihub.tmp.rglob("credentials.json"))     # nothing kept

        ok = dihub.run("auth", "jira", "--with-token", "--insecure-store-file",
                       input=TOKEN + "\n", check_code=0)
        assert f"jira: logged in as Mia Krystof <{EMAIL}>" in ok.stdout
        status = dihub.run("auth", "status", "jira", "--check", check_code=0).stdout
        assert f"jira: ok as Mia Krystof <{EMAIL}>" in status and "via: file" in status
        dihub.run("sync", "jira", "issues", check_code=0)
        assert dihub.store().count("issues", "jira") == 40

        out = dihub.run("auth", "logout", "jira", check_code=0).stdout
        assert "jira: logged out" in out
        gone = dihub.run("sync", "jira", "issues", check_code=1)
        assert "no Jira credentials" in gone.stderr
    for proc in (wrong, ok, gone):
        for secret in secret_forms():
            assert secret not in proc.stdout + proc.stderr
