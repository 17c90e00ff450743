"""Read a local clone (bare or not) with the `git` command.

Only git's own plumbing is used: `for-each-ref` for the heads, `rev-list` for counts,
`for-each-ref --merged` (a first pass) or `rev-list` (a later one) for which tips the
primary branch already contains, and one streaming `git log` (newest first, so git
writes the first commit at once instead of after the whole walk) for the commits. This
process holds one commit at a time; git's pack windows are capped
(`_GIT_CONFIG`), so what git maps of the pack stays bounded too, and what it keeps is a
few hundred bytes per commit walked.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dihub.errors import ConfigError, FatalError

# %x1f between fields, NUL (-z) between commits; the message comes last so any
# separator it contains stays in it.
_FIELDS = ("sha", "parents", "source", "author_name", "author_email", "authored_at",
           "committer_name", "committer_email", "committed_at", "message")
_FORMAT = "%x1f".join(("%H", "%P", "%S", "%an", "%ae", "%ad", "%cn", "%ce", "%cd", "%B"))
# Dates (%ad, %cd) in UTC, in the stored format: git converts them (TZ=UTC0 in its
# environment), so none goes through datetime parsing here; the same text as
# timeutil.to_iso of git's own %aI/%cI in the committer's offset.
_DATE = "--date=format-local:%Y-%m-%dT%H:%M:%SZ"
ALL_REFS = ("refs/heads", "refs/remotes", "refs/tags")
# Pack windows of 16 MB, at most 64 MB mapped at once: git otherwise maps whole packs
# (1 GB windows) and its resident size grows with the pack it reads.
_GIT_CONFIG = ("-c", "core.packedGitWindowSize=16m", "-c", "core.packedGitLimit=64m")


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
            proc = subprocess.run(["git", *_GIT_CONFIG, "-C", str(self.path), *args],
                                  input=stdin,
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
        Finding them walks the primary branch's whole history; `tips` and `contained`
        do the same for a pass that already has most of it.
        """
        found = self.tips(branches)
        primary = self.primary(found, branches)
        if primary is None:
            return found
        sha, name = primary
        inside = self.contained(sha, [s for s in found if s != sha], [])
        return {sha: name, **{s: r for s, r in found.items() if s not in inside}}

    def tips(self, branches: list[str] | None) -> dict[str, str]:
        """{commit sha: full ref name} of every tip (branches, remote branches, tags; or
        the configured branches): one `for-each-ref`, no history walked."""
        found = self._refs(self._patterns(branches))
        if branches:
            names = {_short(r).rsplit("/", 1)[-1] for r in found.values()}
            missing = [b for b in branches if b not in names]
            if missing:
                raise ConfigError(f"branch(es) not found in {self.path}: {', '.join(missing)}",
                                  key="branches")
        return found

    @staticmethod
    def _patterns(branches: list[str] | None):
        return ([f"refs/heads/{b}" for b in branches] + [f"refs/remotes/*/{b}" for b in
                                                         branches]) if branches else ALL_REFS

    def contained(self, tip: str, candidates: list[str], known: list[str]) -> set[str]:
        """Which `candidates` (tips of refs) `tip` reaches, among the commits not reachable
        from `known` (commits whose history was read before): `git rev-list tip --not
        known`, so the cost is the commits since `known`, not the history. A candidate
        `known` already reaches is not reported; it adds no commit to a walk that excludes
        `known`. With nothing known (a first pass), `for-each-ref --merged` answers in
        one walk without listing the history to this process (half the CPU)."""
        wanted = set(candidates)
        if not wanted:
            return set()
        if not known:
            reached = self._run("for-each-ref", f"--merged={tip}",
                                "--format=%(objectname) %(*objectname)")
            return wanted.intersection(reached.split())
        spec = "\n".join([tip, *(f"^{s}" for s in known)]) + "\n"
        found: set[str] = set()
        with self._popen("rev-list", "--stdin", stdin=spec) as out:
            for line in out:
                sha = line.strip().decode()
                if sha in wanted:
                    found.add(sha)
        return found

    def existing(self, shas: list[str]) -> set[str]:
        """Which of `shas` name a commit in the repository (one `git cat-file`)."""
        if not shas:
            return set()
        out = self._run("cat-file", "--batch-check=%(objectname) %(objecttype)",
                        stdin="".join(f"{s}\n" for s in shas))
        return {parts[0] for parts in (line.split() for line in out.splitlines())
                if len(parts) == 2 and parts[1] == "commit"}

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

    def primary(self, found: dict[str, str], branches: list[str] | None):
        """(sha, ref) of the primary branch among `found` (HEAD's branch, else the first
        configured one; a remote-only branch as origin/<name>), or None."""
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

    @contextmanager
    def _popen(self, *args: str, stdin: str = "") -> Iterator[IO[bytes]]:
        """A git command's stdout, streamed; FatalError (with git's message) when it fails."""
        try:
            proc = subprocess.Popen(["git", *_GIT_CONFIG, "-C", str(self.path), *args],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env={**os.environ, "TZ": "UTC0"})
        except FileNotFoundError:
            raise FatalError("the `git` command is not installed",
                             hint="Install git; the git connector runs it.") from None
        try:
            assert proc.stdin and proc.stdout and proc.stderr
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
            yield proc.stdout
            proc.stdout.read()
            if proc.wait() != 0:
                err = proc.stderr.read().decode(errors="replace").strip()
                raise FatalError(f"git {args[0]} failed in {self.path}: {err}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()

    def log(self, include: list[str], exclude: list[str], skip: int = 0
            ) -> Iterator[dict[str, str]]:
        """Commits reachable from `include` and not from `exclude`, streamed newest first
        (git's default order: by commit date; the same every time for the same tips), after
        the first `skip` of them (which git walks past without diffing them)."""
        if not include:
            return
        spec = "\n".join([*include, *(f"^{s}" for s in exclude)]) + "\n"
        args = ["log", "-z", "--no-color", "--source", f"--format={_FORMAT}", _DATE, "--numstat",
                "--no-renames", *([f"--skip={skip}"] if skip > 0 else []), "--stdin"]
        with self._popen(*args, stdin=spec) as out:
            buf = b""
            current: dict | None = None
            while chunk := out.read(1 << 16):
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
