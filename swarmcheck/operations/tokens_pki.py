"""Join tokens and the PKI (catalog area ``tokens-pki``) as the nodes hold them, and the
swarm-spec writes that drive them.

Checks of join tokens, CA rotation and certificate settings look at what each node keeps on
its own disk (the root CA, its certificate chain) rather than only at what the API reports: a
token's CA digest must match the root a node trusts, a rotated root must be the one every
node's certificate chains to. Reading a node's files needs its container (``containers``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from cryptography.x509.oid import ExtendedKeyUsageOID

from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import SWARM_PORT
from swarmcheck.cluster.interface import ContainerNode, Swarm, SwarmNode
from swarmcheck.errors import EngineAPIError, SwarmPromiseBroken
from swarmcheck.operations.promises import promise_timeout
from swarmcheck.steps import step
from swarmcheck.timing import Stopwatch, hold, wait_until

Certificate = x509.Certificate
"""An X.509 certificate (a node's, a root CA's), as ``load_certificate`` parses it."""

CERT_DIR = "/var/lib/docker/swarm/certificates"
ROOT_CA_FILE = f"{CERT_DIR}/swarm-root-ca.crt"
NODE_CERT_FILE = f"{CERT_DIR}/swarm-node.crt"
NODE_KEY_FILE = f"{CERT_DIR}/swarm-node.key"

TOKEN_PREFIX = "SWMTKN"
TOKEN_VERSION = "1"
CA_DIGEST_LEN = 50
"""Characters of the CA digest field: a SHA-256 in base 36, zero-padded."""
SECRET_LEN = 25
"""Characters of the secret field: a random 128-bit number in base 36, zero-padded."""
BASE36 = string.digits + string.ascii_lowercase

T = TypeVar("T")


# -- join tokens ----------------------------------------------------------------------------
def base36(number: int) -> str:
    """``number`` in base 36 with Docker's digits (0-9 then a-z)."""
    if number < 0:
        raise ValueError(f"negative number: {number}")
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = BASE36[rest] + digits
        if number == 0:
            return digits


def ca_digest_field(root_ca_pem: str) -> str:
    """The CA digest a join token carries for this root CA: the SHA-256 of the root CA
    certificate (its PEM bytes), in base 36, zero-padded to 50 characters."""
    digest = hashlib.sha256(root_ca_pem.encode()).hexdigest()
    return base36(int(digest, 16)).rjust(CA_DIGEST_LEN, "0")


def digest_hex(ca_digest: str) -> str:
    """The hexadecimal SHA-256 a base-36 CA digest field stands for (64 characters)."""
    return format(int(ca_digest, 36), "064x")


@dataclass(frozen=True)
class JoinToken:
    """A join token, ``SWMTKN-1-<CA digest>-<secret>``."""

    ca_digest: str
    secret: str

    @classmethod
    def parse(cls, token: str) -> JoinToken:
        """Split a token; ValueError when it does not have the documented form."""
        parts = token.split("-")
        if len(parts) != 4 or parts[0] != TOKEN_PREFIX or parts[1] != TOKEN_VERSION:
            raise ValueError(f"not a {TOKEN_PREFIX}-{TOKEN_VERSION}-<digest>-<secret> token")
        digest, secret = parts[2], parts[3]
        for name, value, length in (
            ("CA digest", digest, CA_DIGEST_LEN),
            ("secret", secret, SECRET_LEN),
        ):
            if len(value) != length or any(ch not in BASE36 for ch in value):
                raise ValueError(f"{name} field {value!r} is not {length} base-36 characters")
        return cls(digest, secret)

    def with_ca_digest(self, ca_digest: str) -> JoinToken:
        return JoinToken(ca_digest, self.secret)

    def __str__(self) -> str:
        return f"{TOKEN_PREFIX}-{TOKEN_VERSION}-{self.ca_digest}-{self.secret}"


# -- what a node keeps on disk --------------------------------------------------------------
def read_node_file(node: ContainerNode, path: str) -> str:
    """A file from the node's own filesystem (the swarm state of its engine)."""
    code, out = node.exec(["cat", path])
    if code != 0:
        raise EngineAPIError(f"cannot read {path} on {node.name}: {out.strip()}", node=node.name)
    return out


def root_ca_pem(node: ContainerNode) -> str:
    """The root CA certificate the node trusts (PEM, exactly as stored)."""
    return read_node_file(node, ROOT_CA_FILE)


def _read_pem(node: ContainerNode, path: str, parse: Callable[[str], T]) -> T:
    """Read and parse a PEM file of the node's swarm state. The engine rewrites these files
    (renewal, rotation, autolock), and a read can land mid-way: it is tried again."""
    return wait_until(
        lambda: parse(read_node_file(node, path)),
        what=f"a readable {path} on {node.name}",
        timeout_s=5,
        interval_s=0.1,
        transient=(ValueError, EngineAPIError),
    )


def node_chain(node: ContainerNode) -> list[Certificate]:
    """The node's TLS certificate, followed by any intermediate it presents."""
    return _read_pem(
        node, NODE_CERT_FILE, lambda pem: x509.load_pem_x509_certificates(pem.encode())
    )


def node_certificate(node: ContainerNode) -> Certificate:
    return node_chain(node)[0]


def issued_by(cert: Certificate, issuer: Certificate) -> bool:
    """Whether ``issuer``'s key signed ``cert`` (all swarm roots are named CN=swarm-ca, so the
    name alone says nothing)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# -- swarm spec writes ----------------------------------------------------------------------
def swarm_spec(client: SwarmClient) -> dict[str, Any]:
    """The current swarm spec, as ``GET /swarm`` returns it."""
    return client.swarm_spec()[1]


def update_swarm_spec(
    client: SwarmClient,
    change: Callable[[dict[str, Any]], None] | None = None,
    *,
    rotate_worker_token: bool = False,
    rotate_manager_token: bool = False,
    rotate_unlock_key: bool = False,
    title: str = "update the swarm spec",
) -> None:
    """Read the whole swarm spec, apply ``change`` to it, and send it whole (POST
    /swarm/update with the version read): settings the change does not touch stay as they are.
    """
    current = client.inspect_swarm()
    spec = current["Spec"]
    if change is not None:
        change(spec)
    client.update_swarm_raw(
        current["Version"]["Index"],
        spec,
        rotate_worker_token=rotate_worker_token,
        rotate_manager_token=rotate_manager_token,
        rotate_unlock_key=rotate_unlock_key,
        title=title,
    )


def force_ca_rotation(client: SwarmClient) -> None:
    """What ``docker swarm ca --rotate`` sends: the spec with ``CAConfig.ForceRotate`` + 1."""

    def bump(spec: dict[str, Any]) -> None:
        ca = spec.setdefault("CAConfig", {})
        ca["ForceRotate"] = int(ca.get("ForceRotate") or 0) + 1

    update_swarm_spec(client, bump, title="rotate the root CA (ForceRotate + 1)")


def rotate_ca_to(client: SwarmClient, cert_pem: str, key_pem: str) -> None:
    """What ``docker swarm ca --rotate --ca-cert C --ca-key K`` sends: the spec with this
    signing CA and ``CAConfig.ForceRotate`` + 1."""

    def use(spec: dict[str, Any]) -> None:
        ca = spec.setdefault("CAConfig", {})
        ca.update(SigningCACert=cert_pem, SigningCAKey=key_pem)
        ca["ForceRotate"] = int(ca.get("ForceRotate") or 0) + 1

    update_swarm_spec(client, use, title="rotate the root CA to a given certificate")


def load_certificate(pem: str) -> Certificate:
    """A PEM certificate, parsed (its subject, issuer, key, validity)."""
    return x509.load_pem_x509_certificate(pem.encode())


def new_root_ca(common_name: str = "swarm-ca", days: int = 20 * 365) -> tuple[str, str]:
    """A fresh self-signed root CA (ECDSA P-256, like the ones swarm makes): PEM certificate
    and PEM key, for ``rotate_ca_to``. Swarm refuses a root that expires within a year (its
    own live 20 years)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    return cert.public_bytes(Encoding.PEM).decode(), key_pem.decode()


def issue_node_certificate(
    root_pem: str, root_key_pem: str, node_id: str, role: str, organization: str
) -> tuple[str, str]:
    """A node certificate as a swarm CA issues it (CN the node ID, OU swarm-<role>, O the
    swarm's ID), signed by ``root_pem``/``root_key_pem``: PEM certificate and PEM key."""
    root = x509.load_pem_x509_certificate(root_pem.encode())
    root_key = load_pem_private_key(root_key_pem.encode(), password=None)
    if not isinstance(root_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the root key is not an ECDSA key")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(x509.NameOID.COMMON_NAME, node_id),
            x509.NameAttribute(x509.NameOID.ORGANIZATIONAL_UNIT_NAME, f"swarm-{role}"),
            x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(f"swarm-{role}"), x509.DNSName(node_id)]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption())
    return cert.public_bytes(Encoding.PEM).decode(), key_pem.decode()


def write_node_file(node: ContainerNode, path: str, text: str) -> None:
    """Replace a file of the node's own filesystem (its engine's swarm state)."""
    encoded = base64.b64encode(text.encode()).decode()
    code, out = node.exec(["sh", "-c", f"echo {encoded} | base64 -d > {path}"])
    if code != 0:
        raise EngineAPIError(f"cannot write {path} on {node.name}: {out.strip()}", node=node.name)


# -- nodes ----------------------------------------------------------------------------------
def local_state(node: SwarmNode) -> str:
    """The node's own view: ``docker info``'s LocalNodeState (active, locked, pending, ...)."""
    return str(node.engine().swarm_info()["LocalNodeState"])


def restart_node(node: ContainerNode, stop_timeout_s: int = 3) -> None:
    """Restart the node's Docker daemon (its container; the swarm state on its volume stays)
    and wait until the engine answers."""
    node.restart(stop_timeout_s)


def rejoin_as_worker(cluster: Swarm, node: ContainerNode) -> None:
    """Bring ``node`` back as a worker of ``cluster`` with a fresh identity: leave whatever
    state it is in, drop its stale entries, join with the current token, wait for a whole
    swarm."""
    with step(f"rejoin {node.name} as a worker"):
        if node.state != "running":
            node.start()
            node.wait_engine()
        client = cluster.client(node)
        leader = cluster.leader()
        lead = cluster.client(leader)
        info = client.info()
        if info["LocalNodeState"] == "active":
            listed = [n for n in lead.nodes() if n.id == info["NodeID"]]
            if listed and (listed[0].role, listed[0].state) == ("worker", "ready"):
                cluster.rejoined(node)
                cluster.wait_healthy()  # already back (the block joined it again)
                return
        if info["LocalNodeState"] != "inactive":
            client.leave(force=True)
        for stale in lead.nodes():
            if stale.hostname == node.name:
                lead.remove_node(stale.id, force=True)
        client.join(f"{leader.ip}:{SWARM_PORT}", lead.join_tokens()["worker"], node.ip, node.ip)
        cluster.rejoined(node)
        cluster.wait_healthy()


@contextmanager
def detached(cluster: Swarm, node: ContainerNode) -> Iterator[None]:
    """``node`` (a worker) outside the swarm for the block: it leaves and its entry is
    removed; afterwards it joins again as a worker, whatever the block did."""
    with step(f"detach {node.name} from the swarm"):
        old_id = node.node_id
        cluster.client(node).leave()
        wait_until(
            lambda: True if local_state(node) == "inactive" else None,
            what=f"{node.name} to leave",
            timeout_s=30,
            timeout_error=promise_timeout,
        )
        cluster.leader_client().remove_node(old_id, force=True)
    try:
        yield
    finally:
        rejoin_as_worker(cluster, node)


def hold_rotation_in_progress(
    info: Callable[[], dict[str, Any]], old_root_pem: str, down: str, window_s: float
) -> float:
    """A root rotation must stay in progress, still on ``old_root_pem``, while node ``down`` is
    down: every look over ``window_s`` (``info()`` is a manager's ``docker info`` Swarm part)
    says so. Returns how long it held."""
    clock = Stopwatch()

    def finished() -> str | None:
        state = info()["Cluster"]
        if state["RootRotationInProgress"] and state["TLSInfo"]["TrustRoot"] == old_root_pem:
            return None
        raise SwarmPromiseBroken(
            f"the root rotation finished {clock():.1f} s into the {window_s:g} s window while "
            f"{down} was down",
            expected=f"RootRotationInProgress true and the old TrustRoot while {down} is down",
            seen=f"in progress: {state['RootRotationInProgress']}, trust root "
            + ("unchanged" if state["TLSInfo"]["TrustRoot"] == old_root_pem else "changed"),
        )

    hold(window_s, finished)
    return clock()


def hold_locked_out(cluster: Swarm, node: SwarmNode, removed: str, window_s: float) -> float:
    """A force-removed node must stay out for ``window_s``: at every look its engine is not an
    active member and no manager lists its old ID, or more nodes than the swarm has left.
    Returns how long it held."""
    lead = cluster.leader_client()
    clock = Stopwatch()

    def back() -> str | None:
        state = cluster.client(node).info()["LocalNodeState"]
        if state == "active":
            return f"{clock():.1f} s into the window the removed {node.name} is active again"
        listed = {n.id for n in lead.nodes()}
        if removed in listed or len(listed) != cluster.spec.size - 1:
            return f"{clock():.1f} s into the window the managers list {sorted(listed)}"
        return None

    hold(window_s, back)
    return clock()
