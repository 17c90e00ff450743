"""Read a local clone (bare or not) with the `git` command.

Only git's own plumbing is used: `for-each-ref` for the heads and one
streaming `git log` for the commits, so memory stays flat on any history size.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dihub.errors import ConfigError, FatalError

# %x1f between fields, NUL (-z) between commits; the message comes last so any
# separator it contains stays in it.
_FIELDS = ("sha", "parents", "source", "author_name", "author_email", "authored_at",
           "committer_name", "committer_email", "committed_at", "message")
_FORMAT = "%x1f".join(("%H", "%P", "%S", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"))
ALL_REFS = ("refs/heads", "refs/remotes", "refs/tags")


@dataclass(frozen=True)
class GitRepo:
    path: Path

    @classmethod
    def open(cls, path: str | Path) -> GitRepo:
        p = Path(path).expanduser()
        if not p.exists():
            raise ConfigError(f"git repository {str(p)!r} does not exist", key="repo")
        repo = cls(p)
        try:
            repo._run("rev-parse", "--git-dir")
        except FatalError:
            raise ConfigError(f"{str(p)!r} is not a git repository", key="repo",
                              hint="Point `repo:` at a clone (bare or not).") from None
        return repo

    def _run(self, *args: str, stdin: str | None = None) -> str:
        try:
            proc = subprocess.run(["git", "-C", str(self.path), *args], input=stdin,
                                  capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise FatalError("the `git` command is not installed",
                             hint="Install git; the git connector runs it.") from None
        if proc.returncode != 0:
            raise FatalError(f"git {args[0]} failed in {self.path}: {proc.stderr.strip()}")
        return proc.stdout

    def name(self) -> str:
        top = self._run("rev-parse", "--absolute-git-dir").strip()
        p = Path(top)
        if p.name == ".git":
            p = p.parent
        return p.name.removesuffix(".git")

    def heads(self, branches: list[str] | None) -> dict[str, str]:
        """{commit sha: full ref name} of the tips to walk, the primary branch first
        (`refs/heads/main`, `refs/remotes/origin/x`, `refs/tags/v1`; `is_tag` tells them
        apart, `short_ref` gives the name to show).

        The primary branch is HEAD's (or the first configured one). Tips it already
        contains (merged branches, tags on it) are left out: they add no commits, and
        leaving them out lets `git log --source` name the primary branch on its own
        history instead of whichever tag or merged branch reached a commit first.
        """
        patterns = ([f"refs/heads/{b}" for b in branches] + [f"refs/remotes/*/{b}" for b in
                                                              branches]) if branches else ALL_REFS
        found = self._refs(patterns)
        if branches:
            names = {_short(r).rsplit("/", 1)[-1] for r in found.values()}
            missing = [b for b in branches if b not in names]
            if missing:
                raise ConfigError(f"branch(es) not found in {self.path}: {', '.join(missing)}",
                                  key="branches")
        primary = self._primary(found, branches)
        if primary is None:
            return found
        sha, name = primary
        inside = set(self._refs(patterns, f"--merged={sha}"))
        return {sha: name, **{s: r for s, r in found.items() if s not in inside}}

    def _refs(self, patterns, *options: str) -> dict[str, str]:
        out = self._run("for-each-ref", "--format=%(objectname) %(*objectname) %(objecttype) "
                        "%(*objecttype) %(refname)", *options, *patterns)
        refs: dict[str, str] = {}
        for line in out.splitlines():
            obj, peeled, kind, peeled_kind, ref = line.split(" ", 4)
            sha = peeled if kind == "tag" else obj
            if (peeled_kind if kind == "tag" else kind) != "commit" or ref.endswith("/HEAD"):
                continue
            if sha not in refs or is_tag(refs[sha]) and not is_tag(ref):
                refs[sha] = ref            # a branch names a tip before a tag on it does
        return refs

    def _primary(self, found: dict[str, str], branches: list[str] | None):
        proc = subprocess.run(["git", "-C", str(self.path), "symbolic-ref", "-q", "HEAD"],
                              capture_output=True, text=True, check=False)
        head = _short(proc.stdout.strip()) if proc.returncode == 0 else None
        wanted = [head] if head and (not branches or head in branches) else []
        wanted += branches or []
        for name in wanted:
            local = subprocess.run(["git", "-C", str(self.path), "rev-parse", "-q", "--verify",
                                    f"refs/heads/{name}^{{commit}}"], capture_output=True,
                                   text=True, check=False)
            if local.returncode == 0 and local.stdout.strip() in found:
                return local.stdout.strip(), f"refs/heads/{name}"
            for sha, ref in found.items():          # a remote-only branch: origin/<name>
                if ref.startswith("refs/remotes/") and _short(ref).split("/", 1)[-1] == name:
                    return sha, ref
        return None

    def count(self, include: list[str], exclude: list[str]) -> int:
        """How many commits `log(include, exclude)` yields (`git rev-list --count`)."""
        if not include:
            return 0
        spec = "\n".join([*include, *(f"^{s}" for s in exclude)]) + "\n"
        return int(self._run("rev-list", "--count", "--stdin", stdin=spec).strip() or 0)

    def exists(self, sha: str) -> bool:
        proc = subprocess.run(["git", "-C", str(self.path), "cat-file", "-e", f"{sha}^{{commit}}"],
                              capture_output=True, check=False)
        return proc.returncode == 0

    def log(self, include: list[str], exclude: list[str]) -> Iterator[dict[str, str]]:
        """Commits reachable from `include` and not from `exclude`, oldest first, streamed."""
        if not include:
            return
        spec = "\n".join([*include, *(f"^{s}" for s in exclude)]) + "\n"
        cmd = ["git", "-C", str(self.path), "log", "--reverse", "--topo-order", "-z",
               "--no-color", "--source", f"--format={_FORMAT}", "--numstat", "--no-renames",
               "--stdin"]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            assert proc.stdin and proc.stdout
            proc.stdin.write(spec.encode())
            proc.stdin.close()
            buf = b""
            current: dict | None = None
            while chunk := proc.stdout.read(1 << 16):
                buf += chunk
                *tokens, buf = buf.split(b"\0")
                for token in tokens:
                    if _HEADER.match(token):
                        if current is not None:
                            yield current
                        current = _parse(token)
                    elif current is not None:
                        _count(current, token)
            if buf.strip(b"\n"):
                if _HEADER.match(buf):
                    if current is not None:
                        yield current
                    current = _parse(buf)
                elif current is not None:
                    _count(current, buf)
            if current is not None:
                yield current
            if proc.wait() != 0:
                err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
                raise FatalError(f"git log failed in {self.path}: {err}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# With -z --numstat, a commit is its header (the format, NUL-ended) then one NUL-ended
# `added<TAB>deleted<TAB>path` token per file (`-` for binary files); merges have none.
_HEADER = re.compile(rb"\n?[0-9a-f]{40}(?:[0-9a-f]{24})?\x1f")
_NUMSTAT = re.compile(rb"\n?([0-9]+|-)\t([0-9]+|-)\t")


def _parse(rec: bytes) -> dict:
    text = rec.decode("utf-8", errors="replace").lstrip("\n")
    values = text.split("\x1f", len(_FIELDS) - 1)
    raw: dict = dict(zip(_FIELDS, values, strict=True))
    if len(raw["parents"].split()) <= 1:        # the size of a merge is not its own
        raw.update(additions=0, deletions=0, files_changed=0)
    return raw


def _count(raw: dict, token: bytes) -> None:
    """Add one `--numstat` line to the commit's size."""
    m = _NUMSTAT.match(token)
    if m is None or "files_changed" not in raw:
        return
    raw["files_changed"] += 1
    raw["additions"] += int(m.group(1)) if m.group(1) != b"-" else 0
    raw["deletions"] += int(m.group(2)) if m.group(2) != b"-" else 0


def is_tag(ref: str) -> bool:
    return ref.startswith("refs/tags/")


def short_ref(ref: str) -> str:
    """`main`, `origin/feature`, `v1` for refs/heads/main, refs/remotes/origin/feature,
    refs/tags/v1."""
    return _short(ref)


def _short(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/remotes/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref
