"""Ingress programming judged by rules: parsing what the engines program in a task's network
namespace and telling what is missing or extra."""

from __future__ import annotations

from swarmcheck.operations.networking import (
    Redirect,
    parse_addresses,
    parse_redirects,
    redirect_problems,
)

# What engine 20.10 programs in a task's namespace for `--publish 30911:8080` (seen here).
TASK_NAT = """-P PREROUTING ACCEPT
-P INPUT ACCEPT
-N DOCKER_OUTPUT
-A PREROUTING -d 10.201.0.6/32 -p tcp -m tcp --dport 30911 -j REDIRECT --to-ports 8080
-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
-A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:41027
"""
IP_ADDR = """1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
5: eth0    inet 10.201.0.2/24 brd 10.201.0.255 scope global eth0\\       valid_lft forever
8: eth1    inet 10.211.0.2/24 brd 10.211.0.255 scope global eth1\\       valid_lft forever
"""


def test_redirects_are_parsed_and_the_rest_ignored() -> None:
    assert parse_redirects(TASK_NAT) == {Redirect("10.201.0.6", "tcp", 30911, 8080)}
    assert parse_redirects("-P PREROUTING ACCEPT\n") == set()


def test_addresses_are_parsed() -> None:
    assert parse_addresses(IP_ADDR) == {"127.0.0.1", "10.201.0.2", "10.211.0.2"}


def test_a_missing_or_stale_redirect_is_named() -> None:
    seen = parse_redirects(TASK_NAT)
    assert redirect_problems("t", "10.201.0.6", seen, {30911: 8080}) == []
    moved = redirect_problems("t", "10.201.0.6", seen, {30913: 8080})
    assert moved == [
        "t: no redirect of published port 30913 to 8080 on 10.201.0.6",
        "t: redirects port 30911 to 8080, which the service does not publish",
    ]
    elsewhere = redirect_problems("t", "10.201.0.9", seen, {30911: 8080})
    assert elsewhere[0] == "t: no redirect of published port 30911 to 8080 on 10.201.0.9"
