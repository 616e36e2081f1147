"""The pure parts of operations.networking and operations.secrets_configs: what a task's
`ls -l`, /proc/mounts and busybox nslookup say, and the errors their waits and refusals
raise."""

from __future__ import annotations

import pytest

from swarmcheck.errors import EngineAPIError, SwarmPromiseBroken
from swarmcheck.operations.networking import parse_nslookup
from swarmcheck.operations.promises import refused
from swarmcheck.operations.secrets_configs import mount_type_of, parse_permissions

MOUNTS = """\
overlay / overlay rw,relatime,lowerdir=/a:/b 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /run/secrets/api-key tmpfs ro,relatime 0 0
tmpfs /etc/app/tls.key tmpfs ro,relatime 0 0
/dev/vda /etc/resolv.conf ext4 rw,relatime 0 0
tmpfs /run/secrets-dir tmpfs ro 0 0
tmpfs /with\\040space tmpfs ro 0 0
"""


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/run/secrets/api-key", "tmpfs"),  # the mount itself
        ("/etc/app/tls.key", "tmpfs"),
        ("/run/secrets/other", "overlay"),  # not mounted: the root filesystem holds it
        ("/run/secrets-dir/x", "tmpfs"),  # a file under a mounted directory
        ("/run/secrets-directory", "overlay"),  # a prefix of a mount point is not inside it
        ("/etc/resolv.conf", "ext4"),
        ("/with space/f", "tmpfs"),  # /proc/mounts escapes spaces
    ],
)
def test_mount_type_is_the_innermost_mount_holding_the_path(path: str, kind: str) -> None:
    assert mount_type_of(MOUNTS, path) == kind


@pytest.mark.parametrize(
    ("perms", "expected"),
    [
        ("-r--r--r--", ("file", 0o444)),
        ("-rw-r-----", ("file", 0o640)),
        ("-rwxrwxrwx", ("file", 0o777)),
        ("drwx------", ("dir", 0o700)),
        ("lrwxrwxrwx", ("link", 0o777)),
        ("-rwsr-Sr-T", ("file", 0o744)),  # set-id/sticky letters: lower case keeps the x bit
        ("crw-rw-rw-", ("other", 0o666)),
    ],
)
def test_permissions_from_ls(perms: str, expected: tuple[str, int]) -> None:
    assert parse_permissions(perms) == expected


NSLOOKUP_TASKS = """\
Server:\t\t127.0.0.11
Address:\t127.0.0.11:53

Non-authoritative answer:
Name:\ttasks.web
Address: 10.201.2.10
Name:\ttasks.web
Address: 10.201.2.8

Non-authoritative answer:

"""
NSLOOKUP_NONE = """\
Server:\t\t127.0.0.11
Address:\t127.0.0.11:53

** server can't find nope: NXDOMAIN
"""
NSLOOKUP_OLD_STYLE = """\
Server:    127.0.0.11
Address 1: 127.0.0.11

Name:      web
Address 1: 10.0.0.2
"""


def test_nslookup_answers_exclude_the_server() -> None:
    assert parse_nslookup(NSLOOKUP_TASKS) == {"10.201.2.10", "10.201.2.8"}
    assert parse_nslookup(NSLOOKUP_NONE) == set()
    assert parse_nslookup(NSLOOKUP_OLD_STYLE) == {"10.0.0.2"}


def test_refused_returns_the_engine_error_and_breaks_the_promise_when_accepted() -> None:
    def refuse() -> None:
        raise EngineAPIError("nope", status_code=409, explanation="secret x already exists")

    assert refused(refuse, "a duplicate").status_code == 409
    with pytest.raises(SwarmPromiseBroken, match="a duplicate was accepted"):
        refused(lambda: None, "a duplicate")
