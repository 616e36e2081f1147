"""Secrets and configs (catalog area ``secrets-configs``): files as a task's container sees
them (mode, owner, content, the filesystem holding them). The objects themselves are made,
read, updated and removed through the facade (``SwarmClient.secrets``, ``.configs``)."""

from __future__ import annotations

from dataclasses import dataclass

from swarmcheck.client.swarm import TaskInfo
from swarmcheck.cluster.interface import Swarm
from swarmcheck.errors import SwarmcheckError
from swarmcheck.operations.services import exec_in_task


# -- files inside a task -----------------------------------------------------------------------
@dataclass(frozen=True)
class TaskFile:
    """A path as a task's container sees it."""

    path: str
    exists: bool
    kind: str = ""
    """``file``, ``dir``, ``link`` or ``other`` (from ``ls -l``)."""
    mode: int = 0
    uid: int = -1
    gid: int = -1
    content: str = ""
    fs_type: str = ""
    """The filesystem type of the mount that holds the path (``tmpfs``, ``overlay``, ...)."""

    def describe(self) -> str:
        if not self.exists:
            return f"{self.path}: absent"
        return (
            f"{self.path}: {self.kind} mode {self.mode:o} uid {self.uid} gid {self.gid} "
            f"on {self.fs_type}, content {self.content!r}"
        )


_FILE_SCRIPT = r"""
p="$1"
if [ -e "$p" ]; then ls -lnd "$p"; echo "@@content@@"; cat "$p"; echo "@@end@@"
else echo ABSENT; fi
echo "@@mounts@@"; cat /proc/mounts
"""


_KINDS = {"-": "file", "d": "dir", "l": "link"}


def task_file(cluster: Swarm, task: TaskInfo, path: str) -> TaskFile:
    """Stat, read and locate ``path`` inside the task's container, on the node running it."""
    code, out = exec_in_task(cluster, task, ["sh", "-c", _FILE_SCRIPT, "sh", path])
    if code != 0 or "@@mounts@@" not in out:
        raise SwarmcheckError(f"could not read {path} in task {task.id[:10]}: {out[-300:]}")
    head, mounts = out.split("@@mounts@@", 1)
    where = mount_type_of(mounts, path)
    if head.strip() == "ABSENT":
        return TaskFile(path=path, exists=False, fs_type=where)
    listing, rest = head.split("@@content@@", 1)
    content = rest.lstrip("\n").rsplit("@@end@@", 1)[0]
    fields = listing.split()
    kind, mode = parse_permissions(fields[0])
    return TaskFile(
        path=path,
        exists=True,
        kind=kind,
        mode=mode,
        uid=int(fields[2]),
        gid=int(fields[3]),
        content=content,
        fs_type=where,
    )


def parse_permissions(perms: str) -> tuple[str, int]:
    """``-rw-r-----`` (from ``ls -l``) -> ("file", 0o640); set-id and sticky bits are not read."""
    mode = sum(1 << (8 - i) for i, char in enumerate(perms[1:10]) if char not in "-ST")
    return _KINDS.get(perms[:1], "other"), mode


def mount_type_of(mounts: str, path: str) -> str:
    """The type of the innermost mount holding ``path``, from /proc/mounts text."""
    best, best_type = "", ""
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, parts[2]
    return best_type
