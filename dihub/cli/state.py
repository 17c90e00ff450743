"""Process-wide CLI state set by the global options, and the error boundary."""

from __future__ import annotations

import functools
import logging
import sys
from dataclasses import dataclass
from typing import Any

import typer


@dataclass
class CliState:
    config_path: str | None = None
    verbose: int = 0
    quiet: bool = False
    log_format: str = "text"
    _config: Any = None

    def config(self, source: str | None = None):
        """The config; with `source`, only that source validated with its connector's
        model (the others by name and connector: `load_config(only=...)`)."""
        if self._config is None:
            from dihub.config import load_config

            self._config = load_config(self.config_path, only=source)
        return self._config

    def store(self):
        from dihub.store import open_configured_store

        return open_configured_store(self.config())


state = CliState()


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(err: Exception, label: str | None = None, **fields) -> None:
    """`label: message` and `hint: ...` on stderr; with `--log-format json`, one JSON object
    (level, event=label, message, hint, error_type and `fields`, e.g. exit_code)."""
    from rich.markup import escape

    from dihub.errors import DihubError

    text = str(err)
    hint = getattr(err, "hint", None)
    try:
        from dihub.redact import redact

        text = redact(text)
        hint = redact(hint) if hint else hint
    except ImportError:
        pass
    if label is None:
        temporary = isinstance(err, DihubError) and err.exit_code == 75
        label = "temporary" if temporary else "error"
    from dihub import log
    from dihub.errors import ConfigError

    if isinstance(err, ConfigError):
        fields = {"config_file": err.path, "config_line": err.line, "config_key": err.key,
                  **fields}
    # A temporary failure (exit 75) is routine for cron: a warning, not an error.
    level = "error" if label == "error" else "warning"
    if log.emit(level, label, text, hint=hint or None, error_type=type(err).__name__,
                **fields):
        return
    colour = "red" if label == "error" else "yellow"
    console = err_console()
    console.print(f"[bold {colour}]{label}:[/] {escape(text)}", markup=True, highlight=False)
    if hint:
        console.print(f"[dim]hint:[/] {escape(hint)}", markup=True, highlight=False)


def handles_errors(fn):
    """Turn DihubErrors into a message + documented exit code; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from dihub.errors import EXIT_FAILURE, DihubError

        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except DihubError as err:
            print_error(err, exit_code=err.exit_code)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            from dihub import log

            if not log.emit("error", "interrupted", "interrupted", exit_code=130):
                err_console().print("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # `dihub fetch ... | head`: the reader left; that is not an error.
            sys.stderr.close()
            raise typer.Exit(0) from None
        except Exception as err:   # noqa: BLE001 - the last line of defence
            from dihub.store.errors import store_error

            translated = store_error(err)
            if translated is not None:
                print_error(translated, exit_code=translated.exit_code)
                raise typer.Exit(translated.exit_code) from None
            logging.getLogger("dihub").debug("internal error", exc_info=True)
            print_error(RuntimeError(f"internal error: {type(err).__name__}: {err} "
                                     "(run with -v for the traceback)"),
                        exit_code=EXIT_FAILURE)
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper
