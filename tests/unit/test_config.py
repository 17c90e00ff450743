"""Config loading: every error names the file, the line and the key, and one load reports
every problem of a file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

import dihub.config as config_module
from dihub.config import MAX_LISTED, find_config, load_config, parse_config
from dihub.errors import EXIT_USAGE, ConfigError

GOOD = """\
store:
  uri: sqlite:///tmp/x.db
  batch_size: 500
sources:
  git:
    connector: git
    repo: ./repo
"""


def _err(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, Path("/etc/dihub/config.yaml"))
    assert info.value.exit_code == EXIT_USAGE
    return info.value


def test_good_config_resolves_relative_repo_from_config_dir():
    cfg = parse_config(GOOD, Path("/etc/dihub/config.yaml"))
    assert cfg.settings.store.batch_size == 500
    assert cfg.sources["git"].repo == "/etc/dihub/repo"
    assert cfg.sources["git"].connector == "git"


def test_wrong_type_names_line_and_key():
    err = _err(GOOD.replace("batch_size: 500", "batch_size: lots"))
    assert err.line == 3 and err.key == "store.batch_size"
    assert str(err).startswith("/etc/dihub/config.yaml:3: store.batch_size:")
    assert "lots" in str(err)


def test_unknown_key_points_at_the_key():
    err = _err(GOOD + "    brnaches: [main]\n")
    assert err.line == 8
    assert err.key == "sources.git.brnaches"
    assert "unknown key 'brnaches'" in str(err)


def test_unknown_top_level_key():
    err = _err("stor:\n  uri: x\n")
    assert (err.line, err.key) == (1, "stor")


def test_broken_yaml_gives_line():
    err = _err("store:\n  uri: [unclosed\nsources: {}\n")
    assert err.line is not None and err.line >= 2
    assert "not valid YAML" in str(err)


def test_unknown_connector_names_the_line():
    err = _err("sources:\n  jra:\n    connector: jiraa\n")
    assert err.line == 3
    assert "connector 'jiraa' is not installed" in str(err)


def test_bad_source_name():
    err = _err("sources:\n  My Source:\n    connector: git\n")
    assert "source name" in str(err)


def test_store_uri_env_override(monkeypatch):
    monkeypatch.setenv("DIHUB_STORE_URI", "mongodb://db:27017/x")
    cfg = parse_config(GOOD, Path("/etc/dihub/config.yaml"))
    assert cfg.settings.store.uri == "mongodb://db:27017/x"


def test_masked_hides_secrets():
    cfg = parse_config("sources:\n  git:\n    connector: git\n", None)
    cfg.raw["sources"]["git"]["api_token"] = "s3cr3t"
    assert "s3cr3t" not in str(cfg.masked())


def test_masked_hides_credentials_inside_uris(monkeypatch):
    monkeypatch.setenv("DIHUB_STORE_URI", "mongodb://bob:hunter2@db.example:27017/dihub")
    cfg = parse_config("sources: {}\n", None)
    shown = str(cfg.masked())
    assert "hunter2" not in shown and "bob" not in shown
    assert "mongodb://****@db.example:27017/dihub" in shown


# --- issue 8: every bad input is a clear ConfigError, every problem in one run -----------

@pytest.fixture(params=["libyaml", "pure"])
def loader(request, monkeypatch):
    """Run a test with libyaml's loader (when PyYAML has it) and with the pure one."""
    if request.param == "pure":
        monkeypatch.setattr(config_module, "_Loader", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml")
    return request.param


def _load_err(path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.exit_code == EXIT_USAGE
    return info.value


def test_non_utf8_bytes_name_file_and_line(tmp_path, loader):
    cfg = tmp_path / "dihub.yaml"
    cfg.write_bytes(b"sources:\n  git:\n    connector: git\n    repo: caf\xe9\n")
    err = _load_err(cfg)
    assert (err.path, err.line) == (str(cfg), 4)
    assert str(err).startswith(f"{cfg}:4: not valid UTF-8: byte 0xe9")
    assert "UTF-8" in err.hint


def test_utf8_and_utf16_byte_order_marks_are_read(tmp_path):
    cfg = tmp_path / "dihub.yaml"
    text = "sources:\n  git:\n    connector: git\n    repo: ./r\n"
    cfg.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert load_config(cfg).sources["git"].repo == str(tmp_path / "r")
    cfg.write_bytes(text.encode("utf-16"))
    assert load_config(cfg).sources["git"].repo == str(tmp_path / "r")


def test_unreadable_file(tmp_path, monkeypatch):
    cfg = tmp_path / "dihub.yaml"
    cfg.write_text("sources: {}\n")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    err = _load_err(cfg)
    assert str(err) == f"{cfg}: cannot read the config file: Permission denied"
    assert "permissions" in err.hint


def test_empty_config_path_is_an_error_not_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dihub.yaml").write_text("sources: {}\n")     # would be found otherwise
    for empty in ("", "  "):
        with pytest.raises(ConfigError, match="the config file path is empty"):
            find_config(empty)


def test_directory_device_and_fifo_are_not_regular_files(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    for path, kind in ((tmp_path, "a directory"), (Path("/dev/null"), "a character device"),
                       (fifo, "a named pipe")):
        err = _load_err(path)
        assert str(err) == f"{path}: not a regular file ({kind})"
    assert "not found" in str(_load_err(tmp_path / "nope.yaml"))


def test_empty_file_says_no_sources_are_configured_and_where_the_example_is(tmp_path):
    cfg = tmp_path / "dihub.yaml"
    cfg.write_text("")
    loaded = load_config(cfg)
    assert loaded.sources == {} and loaded.path == cfg
    with pytest.raises(ConfigError) as info:
        loaded.source("git")
    assert info.value.exit_code == EXIT_USAGE
    assert str(info.value) == f"{cfg}: no sources are configured (asked for 'git')"
    assert "config.example.yaml" in info.value.hint


def test_sections_with_every_key_commented_out_are_empty(tmp_path):
    cfg = parse_config("store:\n  # uri: x\nhttp:\nsources:\n  # git: {}\n")
    assert cfg.sources == {} and cfg.settings.store.batch_size == 1000


def test_base_dir_is_the_config_files_folder(tmp_path):
    cfg = tmp_path / "dihub.yaml"
    cfg.write_text("sources: {}\n")
    assert load_config(cfg).base_dir == tmp_path.resolve()


@pytest.mark.parametrize("uri, says", [
    ("foo://db/x", "unsupported store URI scheme"),
    ("db.example:27017", "unsupported store URI scheme"),
    ("sqlite://dihub.db", "'sqlite://dihub.db': a SQLite URI has three slashes"),
    ("sqlite:///", "'sqlite:///': the embedded store needs a file"),
    ("mongodb://", "not a valid MongoDB URI: Must provide at least one hostname"),
    ("mongodb://bob:pa:ss@db/x", "not a valid MongoDB URI: Username and password must be "
                                 "escaped"),
    ("mongodb://db:notaport/x", "not a valid MongoDB URI"),
    ("mongodb+srv://cluster.example.net:27017/x", "not a valid MongoDB URI: mongodb+srv:// "
                                                  "URIs must not include a port number"),
    ("mongodb+srv://a.example.net,b.example.net/x", "not a valid MongoDB URI: mongodb+srv:// "
                                                    "URIs must include one, and only one"),
])
def test_store_uri_errors_name_file_and_line(uri, says, loader):
    err = _err(f"http:\n  timeout_s: 5\nstore:\n  uri: '{uri}'\n")
    assert (err.line, err.key) == (4, "store.uri")
    assert str(err).startswith(f"/etc/dihub/config.yaml:4: store.uri: {says}"), str(err)
    assert "pa:ss" not in str(err)
    assert err.hint


def test_store_uris_are_checked_without_dns(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("config loading must not resolve or connect")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    try:
        import dns.resolver

        monkeypatch.setattr(dns.resolver, "resolve", no_network)
        monkeypatch.setattr(dns.resolver.Resolver, "resolve", no_network)
    except ImportError:
        pass
    for uri in ("mongodb://db1:27017,db2:27017/dihub?replicaSet=rs0",
                "mongodb+srv://bob:s%40cret@cluster0.example.net/dihub?retryWrites=true",
                "sqlite:////var/lib/dihub.db", "sqlite:///relative.db"):
        assert parse_config(f"store:\n  uri: '{uri}'\n").settings.store.uri == uri
    err = _err("store:\n  uri: mongodb+srv://cluster0.example.net:27017/dihub\n")
    assert (err.line, err.key) == (2, "store.uri")


def test_store_uri_from_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("DIHUB_STORE_URI", "postgres://db/x")
    err = _err(GOOD)
    assert str(err).startswith("$DIHUB_STORE_URI: store.uri: unsupported store URI scheme")


def test_every_problem_of_a_file_in_one_error(loader):
    text = ("stor: {}\n"                    # 1
            "http:\n"                       # 2
            "  timeout: 5\n"                # 3
            "store:\n"                      # 4
            "  batch_size: lots\n"          # 5
            "sources:\n"                    # 6
            "  git:\n"                      # 7
            "    connector: git\n"          # 8
            "    brnaches: [main]\n"        # 9
            "  Bad Name:\n"                 # 10
            "    connector: git\n"          # 11
            "  jira:\n"                     # 12
            "    connector: jira\n"         # 13
            "    overlap: 5\n"              # 14
            "  other:\n"                    # 15
            "    connector: nosuch\n")      # 16
    err = _err(text)
    shown = "/etc/dihub/config.yaml"
    assert [(p.line, p.key) for p in err.problems] == [
        (1, "stor"), (3, "http.timeout"), (5, "store.batch_size"), (9, "sources.git.brnaches"),
        (10, "sources.Bad Name"), (12, "sources.jira.base_url"), (14, "sources.jira.overlap"),
        (16, "sources.other.connector")]
    lines = str(err).splitlines()
    assert lines[0] == f"{shown}: 8 problems:"
    assert lines[1:] == [str(p) for p in err.problems]
    assert lines[1] == f"{shown}:1: stor: unknown key 'stor'"
    assert lines[4] == f"{shown}:9: sources.git.brnaches: unknown key 'brnaches'"
    assert "connector 'nosuch' is not installed" in lines[8]
    assert "config.example.yaml" in err.hint
    # a single problem keeps the one-line message
    err = _err(GOOD + "    brnaches: [main]\n")
    assert str(err) == "/etc/dihub/config.yaml:8: sources.git.brnaches: unknown key 'brnaches'"



def test_beyond_the_listed_problems_the_rest_are_counted():
    keys = "".join(f"k{i}: 1\n" for i in range(MAX_LISTED + 7))
    err = _err(keys)
    lines = str(err).splitlines()
    assert lines[0].endswith(f": {MAX_LISTED + 7} problems:")
    assert len(err.problems) == MAX_LISTED and lines[-1] == "... and 7 more"


def test_duplicate_keys_are_reported(loader):
    err = _err("sources:\n  git:\n    connector: git\n    repo: a\n"
               "    repo: b\n  git:\n    connector: git\n")
    assert [(p.line, p.key) for p in err.problems] == [
        (5, "sources.git.repo"), (6, "sources.git")]
    assert "first given on line 2" in str(err)


def test_a_value_yaml_cannot_construct_names_its_line_and_key(loader):
    err = _err("sources:\n  jira:\n    connector: jira\n    base_url: https://a.atlassian.net\n"
               "    start_date: 2024-13-45\n")
    assert (err.line, err.key) == (5, "sources.jira.start_date")
    assert "not valid YAML" in str(err) and "Quote" in err.hint


def test_control_character_names_its_line(loader):
    err = _err("store:\n  batch_size: 5\nsources:\n  git: {connector: git, repo: \"a\x07\"}\n")
    assert err.line == 4 and "#x0007" in str(err)



def test_combined_error_lists_the_first_problems_in_file_order():
    from dihub.config import combined_error

    errors = [ConfigError("bad", path="f.yaml", line=n, key=f"k{n}")
              for n in range(MAX_LISTED + 10, 0, -1)]
    err = combined_error(errors, "f.yaml")
    assert [p.line for p in err.problems] == list(range(1, MAX_LISTED + 1))
    lines = str(err).splitlines()
    assert lines[0] == f"f.yaml: {MAX_LISTED + 10} problems:"
    assert lines[1] == "f.yaml:1: k1: bad" and lines[-1] == "... and 10 more"


BROKEN_JIRA = """\
sources:
  git: {connector: git, repo: ./repo}
  jira: {connector: jira, base_url: "https://x.atlassian.net", colour: blue}
"""


def test_only_one_source_is_validated_with_its_connector_s_model():
    """`dihub sync git` (load_config(only="git")): the git source gets its model, the others
    their name and connector only, so a mistake in jira's keys fails jira's runs, not git's."""
    cfg = parse_config(BROKEN_JIRA, Path("/etc/dihub/config.yaml"), only="git")
    assert cfg.sources["git"].repo == "/etc/dihub/repo"          # the git model's work
    assert type(cfg.sources["jira"]).__name__ == "SourceRef"
    assert cfg.sources["jira"].connector == "jira"
    err = _err(BROKEN_JIRA)                                       # every source: refused
    assert (err.line, err.key) == (3, "sources.jira.colour")
    with pytest.raises(ConfigError) as info:                      # jira's own runs: refused
        parse_config(BROKEN_JIRA, Path("/etc/dihub/config.yaml"), only="jira")
    assert info.value.key == "sources.jira.colour"
    with pytest.raises(ConfigError, match="must start with a lower-case letter"):
        parse_config(BROKEN_JIRA + "  Bad: {connector: git}\n", only="git")  # names: always
