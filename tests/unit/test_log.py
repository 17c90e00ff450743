"""JSON log lines: one object per line, secrets masked, structured fields kept; library
warnings and records outside the `dihub` logger are JSON too."""

from __future__ import annotations

import json
import logging
import warnings

import pytest

from dihub import log
from dihub.redact import forget_secrets, register_secret

SECRET = "s3cr3t-value-for-tests"


@pytest.fixture(autouse=True)
def _restore_logging():
    """log.setup reconfigures process-wide loggers; later tests (caplog) need them back."""
    names = ("dihub", "httpx", "")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level,
                 logging.getLogger(n).propagate) for n in names}
    yield
    for n, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(n)
        logger.handlers[:], logger.propagate = handlers, propagate
        logger.setLevel(level)
    logging.captureWarnings(False)
    log._format = "text"


@pytest.fixture
def json_stderr(capsys):
    log.setup(0, False, "json")
    register_secret(SECRET)
    yield capsys
    forget_secrets()


def _docs(capsys) -> list[dict]:
    err = capsys.readouterr().err
    assert SECRET not in err, err
    return [json.loads(line) for line in err.splitlines()]


def test_log_records_are_json_with_fields_and_masked_secrets(json_stderr):
    logger = logging.getLogger("dihub.test")
    logger.info("two\nlines with %s", SECRET, extra={"fields": {"records": 3,
                                                                "note": f"x {SECRET}"}})
    try:
        raise ValueError(f"boom {SECRET}")
    except ValueError:
        logger.error("failed", exc_info=True)
    first, second = _docs(json_stderr)
    assert first["event"] == "log" and first["level"] == "info"
    assert first["logger"] == "dihub.test" and first["records"] == 3
    assert first["message"] == "two\nlines with ****" and first["note"] == "x ****"
    assert second["level"] == "error" and "ValueError: boom ****" in second["exception"]


def test_emit_and_print_error(json_stderr):
    from dihub.cli.state import print_error
    from dihub.errors import AuthError, ConfigError, LeaseHeld

    assert log.emit("info", "summary", "done", records=2, skipped=None)
    print_error(AuthError(f"token {SECRET} rejected", hint="Run `dihub auth github`."),
                exit_code=1)
    print_error(LeaseHeld("git/commits/*", "host pid 1 run r", "2030-01-01T00:00:00Z"))
    print_error(ConfigError("not a number", path="/etc/d.yaml", line=4, key="store.x"))
    summary, auth, lease, config = _docs(json_stderr)
    assert summary["records"] == 2 and "skipped" not in summary
    assert auth == {**auth, "level": "error", "event": "error", "exit_code": 1,
                    "error_type": "AuthError", "hint": "Run `dihub auth github`.",
                    "message": "token **** rejected"}
    assert lease["level"] == "warning" and lease["event"] == "temporary"
    assert config["config_file"] == "/etc/d.yaml" and config["config_line"] == 4
    assert config["config_key"] == "store.x"


def test_python_warnings_and_other_loggers_are_json(json_stderr):
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
    logging.getLogger("somelib").warning("careful")
    w, lib = _docs(json_stderr)
    assert w["level"] == "warning" and "old API" in w["message"]
    assert lib["logger"] == "somelib" and lib["message"] == "careful"


def test_text_mode_writes_nothing_through_emit(capsys):
    log.setup(0, False, "text")
    assert not log.emit("info", "summary", "done")
    assert capsys.readouterr().err == ""
