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

    def config(self):
        if self._config is None:
            from dihub.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    def store(self):
        from dihub.store import open_store

        return open_store(self.config().settings.store.uri)


state = CliState()


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(err: Exception, label: str | None = None) -> None:
    from rich.markup import escape

    from dihub.errors import DihubError

    text = str(err)
    hint = getattr(err, "hint", None)
    try:
        from dihub.http.redact import redact

        text = redact(text)
        hint = redact(hint) if hint else hint
    except ImportError:
        pass
    if label is None:
        temporary = isinstance(err, DihubError) and err.exit_code == 75
        label = "temporary" if temporary else "error"
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
            print_error(err)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
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
                print_error(translated)
                raise typer.Exit(translated.exit_code) from None
            logging.getLogger("dihub").debug("internal error", exc_info=True)
            print_error(RuntimeError(f"internal error: {type(err).__name__}: {err} "
                                     "(run with -v for the traceback)"))
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper
