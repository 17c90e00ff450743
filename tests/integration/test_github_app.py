"""`dihub sync` of a GitHub source authenticated as a GitHub App, against the simulator:
two organizations on two installations, each on its own quota; tokens refreshed across
an expiry mid-sync; a refused key; a missing installation; the key stored by `dihub auth`
and bound to its host; and no key, JWT or installation token anywhere it could leak."""

from __future__ import annotations

import json
import os
import stat

import pytest

from tests.integration.conftest import Dihub
from tests.simulators.github import App, Dataset, GitHubSimulator, TokenAuth, generate_keys
from tests.support.github import cursors, expected, github_config

OCTO, ACME = ("octo-org/repo-a", "octo-org/repo-b"), ("acme-corp/api", "acme-corp/web")
REPOS = OCTO + ACME
INSTALLS = {"octo-org": 101, "acme-corp": 202}
KEY_ENV = "DIHUB_TEST_GH_APP_KEY"
ENTITIES = ("commits", "pull_requests", "issues", "builds", "users")


def data() -> Dataset:
    return Dataset.generate(REPOS, commits_per_repo=60, prs_per_repo=10, issues_per_repo=10,
                            runs_per_repo=5, seed=3)


@pytest.fixture(scope="module")
def keys():
    return generate_keys()


def app_dihub(tmp_path, sim, private: str, *, app: str = "", repos=REPOS,
              http: str | None = None) -> Dihub:
    dihub = Dihub(tmp_path)
    dihub.env[KEY_ENV] = private
    dihub.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    line = f"app: {{app_id: 12345, private_key_env: {KEY_ENV}{app}}}"
    dihub.write_config(github_config(sim.api_url, repos, token_env=None, extra=line,
                                     http=http))
    return dihub


def audit(dihub: Dihub) -> list[dict]:
    out = dihub.run("audit", "--format", "json", "--limit", "100000", check_code=0).stdout
    return json.loads(out)


def counts(dihub: Dihub) -> dict[str, int]:
    store = dihub.store()
    return {e: store.count(e, "github") for e in ENTITIES}


def test_two_organizations_sync_through_two_installations_each_on_its_quota(tmp_path, keys):
    private, public = keys
    app = App(public, INSTALLS)
    with GitHubSimulator(data(), auth=TokenAuth({}), app=app) as sim:
        dihub = app_dihub(tmp_path, sim, private)
        dihub.run("sync", "github", "--all", check_code=0)
        want = expected(sim.dataset, REPOS)
        assert counts(dihub) == want["counts"]
        shas = {d["commit_id"] for d in dihub.store().iter_records("commits", "github")}
        assert shas == want["shas"]
        spent = {i: app.quota(i).spent_total for i in INSTALLS.values()}
        assert spent[101] > 0 and spent[202] > 0
        assert spent[101] + spent[202] == sim.stats.quota_spent   # nothing on another quota
        # every data request carried the token of the installation on the repo's owner
        owner_of_token = {t: app.account_of(app.tokens[t].installation)
                          for t in app.issued_tokens()}
        for rec in sim.stats.log:
            if rec.path.startswith("/repos/"):
                token = rec.headers["authorization"].split()[-1]
                assert owner_of_token[token] == rec.path.split("/")[2].lower(), rec.path
        entries = audit(dihub)
        minted = sorted(e["detail"]["account"] for e in entries if e["action"] == "token")
        assert minted == ["acme-corp", "octo-org"]            # one token each, all run long
        # a second run with nothing new: 304s, no quota spent on either installation
        before = dict(spent)
        dihub.run("sync", "github", "--all", check_code=0)
        assert {i: app.quota(i).spent_total for i in INSTALLS.values()} == before
        assert counts(dihub) == want["counts"]


@pytest.mark.slow
def test_tokens_are_refreshed_across_an_expiry_mid_sync_and_no_401_reaches_the_user(
        tmp_path, keys):
    """Installation tokens live 4 s here (GitHub: an hour), so dihub replaces them 2 s
    before (half the lifetime; the margin is 5 minutes of an hour's token); the octo-org
    quota runs out at its first request for 4 s, so that partition waits past its
    token's refresh point. Tokens also stop working after 6 requests, earlier than their
    expires_at says: each such 401 gets one new token and the request is repeated."""
    private, public = keys
    app = App(public, INSTALLS, token_lifetime_s=4, expire_after_uses=6,
              exhaust_at_first_use={101: 4})
    with GitHubSimulator(data(), auth=TokenAuth({}), app=app) as sim:
        dihub = app_dihub(tmp_path, sim, private)
        dihub.run("sync", "github", "--all", check_code=0)
        assert counts(dihub) == expected(sim.dataset, REPOS)["counts"]
        statuses = sim.stats.snapshot()["by_status"]
    entries = audit(dihub)
    reasons = [e["detail"]["reason"] for e in entries if e["action"] == "token"]
    assert reasons.count("first") == 2
    assert "expiring" in reasons and "401" in reasons
    assert int(statuses.get("401", 0)) >= 1                     # GitHub did say 401 ...
    failed = [e for e in entries if e["outcome"] == "failed"]
    assert failed == []                                         # ... and no request failed
    metrics = json.loads(dihub.run("metrics", "--format", "json", check_code=0).stdout)
    assert all(m["failures"] == 0 and m["outcome"] == "ok" for m in metrics)


@pytest.mark.slow
def test_one_installation_waits_on_its_quota_while_the_other_goes_on(tmp_path, keys):
    """octo-org's quota runs out at its first request until a reset 6 s later;
    acme-corp's partitions run meanwhile on their own quota: the simulator's request log
    (arrival order) has
    every acme-corp request between octo-org's 403 and octo-org's next 200."""
    private, public = keys
    app = App(public, INSTALLS, exhaust_at_first_use={101: 6})
    with GitHubSimulator(data(), auth=TokenAuth({}), app=app) as sim:
        dihub = app_dihub(tmp_path, sim, private)
        dihub.run("sync", "github", "commits", check_code=0)
        log = [r for r in sim.stats.log if r.path.startswith("/repos/")]
        assert counts(dihub)["commits"] == len(expected(sim.dataset, REPOS)["shas"])

    def org(rec) -> str:
        return rec.path.split("/")[2]
    first_403 = next(i for i, r in enumerate(log) if org(r) == "octo-org" and r.status == 403)
    resumed = next(i for i, r in enumerate(log)
                   if i > first_403 and org(r) == "octo-org" and r.status == 200)
    acme = [i for i, r in enumerate(log) if org(r) == "acme-corp"]
    assert acme and all(r.status in (200, 304) for r in log if org(r) == "acme-corp")
    assert max(acme) < resumed                     # acme finished while octo-org waited
    entries = audit(dihub)
    waited = [e for e in entries if e["action"] in ("retry", "wait")]
    assert waited and all("/octo-org/" in e["detail"]["path"] for e in waited)
    passes = sorted((e for e in entries if e["action"] == "sync"),
                    key=lambda e: e["timestamp"])
    assert {e["partition"] for e in passes[:2]} == set(ACME)
    assert {e["partition"] for e in passes[2:]} == set(OCTO)


def test_a_refused_app_key_exits_1_with_the_command_to_fix(tmp_path, keys):
    private, _ = keys
    _, other_public = generate_keys()                # GitHub holds another key
    app = App(other_public, INSTALLS)
    with GitHubSimulator(data(), auth=TokenAuth({}), app=app) as sim:
        dihub = app_dihub(tmp_path, sim, private)
        res = dihub.run("sync", "github", "--all", check_code=1)
        assert app.refused_jwts == 1                 # one refusal stops the source
        assert not sim.stats.requests_to("/repos/")
    assert "rejected the JWT of app 12345" in res.stderr
    assert "dihub auth github --app-id 12345 --private-key-file KEY.pem" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_repository_whose_owner_has_no_installation_is_a_config_error(tmp_path, keys):
    private, public = keys
    app = App(public, {"octo-org": 101})
    with GitHubSimulator(data(), auth=TokenAuth({}), app=app) as sim:
        dihub = app_dihub(tmp_path, sim, private)
        res = dihub.run("sync", "github", "commits", check_code=2)
        assert not sim.stats.requests_to("/repos/")
    assert "not installed on 'acme-corp'" in res.stderr
    assert "Install the app on acme-corp" in res.stderr


@pytest.mark.slow
def test_no_key_jwt_or_installation_token_in_output_audit_metrics_status_or_store(
        tmp_path, keys):
    private, public = keys
    app = App(public, INSTALLS, expire_after_uses=6)        # 401s and refreshes too
    with GitHubSimulator(data(), auth=TokenAuth({}), app=app) as sim:
        dihub = app_dihub(tmp_path, sim, private)
        dihub.write_config(dihub.config.read_text().replace(
            "store:\n", "store:\n  raw_payloads: {enabled: true}\n", 1))
        outputs = [dihub.run("-vv", "sync", "github", "--all", check_code=0)]
        app.set_public_key(generate_keys()[1])               # the key is revoked
        sim.dataset.add_commit(OCTO[0])
        app.expire_after_uses = 0
        outputs.append(dihub.run("-vv", "--log-format", "json", "sync", "github", "--all",
                                 check_code=1))
        jwts, tokens = set(app.seen_jwts), app.issued_tokens()
        outputs.append(dihub.run("auth", "status", "--check", check_code=1))
    for args in (("audit", "--format", "json", "--limit", "100000"),
                 ("metrics", "--format", "json", "--limit", "1000"),
                 ("metrics", "--format", "prom"), ("status",), ("auth", "status")):
        outputs.append(dihub.run(*args, check_code=0))
    assert len(tokens) >= 3 and jwts
    key_lines = [ln for ln in private.splitlines() if not ln.startswith("-----")]
    secrets = [*key_lines, *jwts, *tokens]
    texts = [p.stdout + p.stderr for p in outputs]
    assert any("DEBUG" in t for t in texts) and any('"raw_payload"' in t for t in texts)
    for text in texts:
        for secret in secrets:
            assert secret not in text
    dihub.store().close()
    stored = [p for p in tmp_path.iterdir() if p.name.startswith("store.db")]
    assert stored
    for path in stored:
        blob = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in blob, path


def test_auth_stores_the_key_bound_to_its_host_and_status_shows_the_installations(
        tmp_path, keys):
    private, public = keys
    app = App(public, INSTALLS)
    key_file = tmp_path / "app.pem"
    key_file.write_text(private)
    with GitHubSimulator(data(), auth=TokenAuth({}), app=app) as sim:
        dihub = Dihub(tmp_path)
        dihub.env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
        dihub.write_config(github_config(sim.api_url, REPOS, token_env=None,
                                         extra="app: {app_id: 12345}"))
        missing = dihub.run("sync", "github", "commits", check_code=1)
        assert "dihub auth github --app-id 12345 --private-key-file" in missing.stderr
        res = dihub.run("auth", "github", "--app-id", "12345", "--private-key-file",
                        str(key_file), "--insecure-store-file", check_code=0)
        assert "logged in as app dihub-sync" in res.stdout
        creds = tmp_path / "home" / ".config" / "dihub" / "credentials.json"
        assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
        status = dihub.run("auth", "status", "github", check_code=0).stdout
        assert "app: 12345" in status and f"host: 127.0.0.1:{sim.port}" in status
        checked = dihub.run("auth", "status", "github", "--check", check_code=0).stdout
        assert "ok as app dihub-sync" in checked
        assert "octo-org (101)" in checked and "acme-corp (202)" in checked
        dihub.run("sync", "github", "commits", check_code=0)
        assert cursors(dihub.store()) and counts(dihub)["commits"] > 0
        # another host: the stored key is not used there (nor a token minted for it)
        with GitHubSimulator(data(), auth=TokenAuth({}), app=App(public, INSTALLS)) as other:
            dihub.write_config(github_config(other.api_url, REPOS, token_env=None,
                                             extra="app: {app_id: 12345}"))
            moved = dihub.run("sync", "github", "commits", check_code=1)
            assert other.stats.requests == 0
        assert f"127.0.0.1:{sim.port}" in moved.stderr and "dihub auth github" in moved.stderr
    assert private.splitlines()[1] not in res.stdout + res.stderr + status + checked
