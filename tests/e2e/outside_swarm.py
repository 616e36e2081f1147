"""A swarm started outside the plugin, reached over mutual TLS: the stand-in for a lab or a
staging swarm in the `--swarm=existing` end-to-end test.

Nodes are Docker-in-Docker containers of the node image whose engines listen with
``--tlsverify`` on port 2376 of their own address (certificates made here with
``cryptography``: a CA, one server certificate per node for its IP, one client certificate).
The swarm is formed here, through those TLS endpoints, and gets a few objects of "its users"
(a service, an overlay network, a secret, a config, a node label) that a run must leave alone.
``state()`` reads everything a run could have touched, for a before/after comparison.

Standalone use (prints the options to pass to pytest; ``down`` removes it)::

    python tests/e2e/outside_swarm.py up /tmp/lab [WORKERS]
    python tests/e2e/outside_swarm.py down /tmp/lab
"""

from __future__ import annotations

import datetime
import io
import ipaddress
import json
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from docker.tls import TLSConfig
from docker.types import IPAMConfig, IPAMPool

from swarmcheck import labels
from swarmcheck.client.engine import remote_client
from swarmcheck.cluster import reaper
from swarmcheck.cluster.network import create_network, node_ip
from swarmcheck.machine import images

PORT = 2376
NODE_IMAGE = "swarmcheck/node:bookworm"
MANAGERS = 3
"""Three managers (the suites' default shape), named as a lab would name hosts (lab1, ...)."""
USER_IMAGE = "lab/app:1"
STATE_FILE = "lab.json"


# -- certificates ----------------------------------------------------------------------------
def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    ips: tuple[str, ...] = (),
    usage: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=not ca,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if ips:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(i)) for i in ips]),
            critical=False,
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_certificates(folder: Path, node_ips: dict[str, str]) -> Path:
    """A CA, a server certificate per node (for its IP), and a client certificate in
    ``folder/client`` (ca.pem, cert.pem, key.pem: the DOCKER_CERT_PATH layout)."""
    ca_key = _key()
    ca = _cert("swarmcheck outside-swarm CA", ca_key, None, ca=True)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    for name, ip in node_ips.items():
        node_dir = folder / name
        node_dir.mkdir(parents=True, exist_ok=True)
        key = _key()
        cert = _cert(
            name, key, (ca.subject, ca_key), ips=(ip,), usage=ExtendedKeyUsageOID.SERVER_AUTH
        )
        (node_dir / "ca.pem").write_bytes(ca_pem)
        (node_dir / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(node_dir / "key.pem", key)
    client_dir = folder / "client"
    client_dir.mkdir(parents=True, exist_ok=True)
    key = _key()
    cert = _cert(
        "swarmcheck client", key, (ca.subject, ca_key), usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    (client_dir / "ca.pem").write_bytes(ca_pem)
    (client_dir / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(client_dir / "key.pem", key)
    return client_dir


def tls(client_dir: Path) -> TLSConfig:
    return TLSConfig(
        client_cert=(str(client_dir / "cert.pem"), str(client_dir / "key.pem")),
        ca_cert=str(client_dir / "ca.pem"),
        verify=True,
    )


# -- the lab -----------------------------------------------------------------------------------
@dataclass
class Lab:
    """An outside swarm: where its engines answer and how to reach them."""

    run_id: str
    folder: Path
    ips: dict[str, str]
    client_dir: Path

    def url(self, name: str) -> str:
        return f"tcp://{self.ips[name]}:{PORT}"

    @property
    def urls(self) -> list[str]:
        return [self.url(n) for n in self.ips]

    def client(self, name: str, timeout_s: float = 30.0) -> docker.DockerClient:
        return remote_client(self.url(name), tls=tls(self.client_dir), timeout_s=timeout_s)

    def save(self) -> None:
        (self.folder / STATE_FILE).write_text(
            json.dumps({"run_id": self.run_id, "ips": self.ips, "client": str(self.client_dir)})
        )

    @staticmethod
    def load(folder: Path) -> Lab:
        data = json.loads((folder / STATE_FILE).read_text())
        return Lab(data["run_id"], folder, data["ips"], Path(data["client"]))


def _tar(files: dict[str, bytes], mode: int = 0o644) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), mode
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def _wait(what: str, probe: Callable[[], object], timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            found = probe()
            if found:
                return found
        except Exception as exc:  # an engine still starting
            last = exc
        time.sleep(0.3)
    raise TimeoutError(f"outside swarm: no {what} after {timeout_s:.0f} s (last: {last})")


OUTSIDE = "io.swarmcheck-e2e.outside"
"""The label of a lab started by hand (``up``): not a swarmcheck run label, so no sweep of
dead runs removes it after the script exits; ``down`` does."""


def _labels(run_id: str, role: str, owned: bool) -> dict[str, str]:
    return labels.for_run(run_id, role) if owned else {OUTSIDE: run_id}


def start(host: docker.DockerClient, folder: Path, *, owned: bool = True, workers: int = 0) -> Lab:
    """Start the nodes (three managers and ``workers`` workers), form the swarm over TLS, add
    its users' objects. ``owned``: labelled as this process's run (swept if it dies); else
    only with OUTSIDE (for ``up``)."""
    folder.mkdir(parents=True, exist_ok=True)
    run_id = labels.new_run_id()
    network, subnet = create_network(host, run_id, None)
    if not owned:  # the run's network label would let a sweep remove it: put ours instead
        host.networks.get(network).remove()
        network = _network(host, run_id, subnet)
    names = [f"lab{i + 1}" for i in range(MANAGERS + workers)]
    ips = {name: node_ip(subnet, i) for i, name in enumerate(names)}
    client_dir = make_certificates(folder / "certs", ips)
    lab = Lab(run_id, folder, ips, client_dir)
    lab.save()
    entrypoint = images.node_entrypoint()
    for name, ip in ips.items():
        volume = f"sc-{run_id}-{name}-docker"
        host.volumes.create(name=volume, labels=_labels(run_id, "volume", owned))
        container = host.containers.create(
            NODE_IMAGE,
            entrypoint=["/bin/sh", "/swarmcheck-entrypoint.sh"],
            command=[
                f"--host=tcp://{ip}:{PORT}",
                "--tlsverify",
                "--tlscacert=/certs/ca.pem",
                "--tlscert=/certs/cert.pem",
                "--tlskey=/certs/key.pem",
            ],
            name=f"sc-{run_id}-{name}",
            hostname=name,
            labels=_labels(run_id, "node", owned),
            environment={"SWARMCHECK_NODE": name, "SWARMCHECK_API_SOCKET": "/run/api.sock"},
            cap_add=["ALL"],
            cap_drop=["SYS_RESOURCE"],
            security_opt=["seccomp=unconfined", "apparmor=unconfined"],
            device_cgroup_rules=["a *:* rwm"],
            tmpfs={"/run": "", "/tmp": ""},
            volumes={volume: {"bind": "/var/lib/docker", "mode": "rw"}},
            network=network,
            networking_config={network: host.api.create_endpoint_config(ipv4_address=ip)},
        )
        container.put_archive("/", _tar({"swarmcheck-entrypoint.sh": entrypoint}, 0o755))
        node_certs = folder / "certs" / name
        container.put_archive(
            "/",
            _tar(
                {
                    f"certs/{f}": (node_certs / f).read_bytes()
                    for f in ("ca.pem", "cert.pem", "key.pem")
                }
            ),
        )
        container.start()
    for name in ips:
        _wait(f"TLS engine on {name}", lambda name=name: lab.client(name, 3).version())
    _form(lab, host)
    return lab


def _form(lab: Lab, host: docker.DockerClient) -> None:
    names = list(lab.ips)
    first = lab.client(names[0])
    first.swarm.init(
        advertise_addr=f"{lab.ips[names[0]]}:2377",
        listen_addr="0.0.0.0:2377",
        default_addr_pool=["10.202.0.0/16"],
        subnet_size=24,
    )
    tokens = first.swarm.attrs["JoinTokens"]
    for index, name in enumerate(names[1:], start=1):
        role = "Manager" if index < MANAGERS else "Worker"
        lab.client(name).swarm.join(
            remote_addrs=[f"{lab.ips[names[0]]}:2377"],
            join_token=tokens[role],
            listen_addr="0.0.0.0:2377",
            advertise_addr=f"{lab.ips[name]}:2377",
        )
    _wait(
        "every node Ready",
        lambda: (
            sum(n.attrs["Status"]["State"] == "ready" for n in first.nodes.list()) == len(names)
        ),
    )
    # its users' image (the workload's busybox under another name), and their objects
    saved = b"".join(host.api.get_image(f"{images.WORKLOAD_REPO}:v1"))
    for name in names:
        client = lab.client(name)
        loaded = client.images.load(saved)[0]
        loaded.tag(USER_IMAGE)
        client.images.remove(f"{images.WORKLOAD_REPO}:v1")
    first.networks.create("lab-net", driver="overlay", attachable=True)
    first.secrets.create(name="lab-secret", data=b"lab secret")
    first.configs.create(name="lab-config", data=b"lab config")
    first.services.create(
        USER_IMAGE, name="lab-web", networks=["lab-net"], mode={"Replicated": {"Replicas": 2}}
    )
    lab2 = next(n for n in first.nodes.list() if n.attrs["Description"]["Hostname"] == names[1])
    spec = dict(lab2.attrs["Spec"])
    spec["Labels"] = {"lab.zone": "a"}
    lab2.update(spec)
    _wait(
        "lab-web running 2/2",
        lambda: (
            sum(
                t["Status"]["State"] == "running"
                for t in first.api.tasks(filters={"service": "lab-web", "desired-state": "running"})
            )
            == 2
        ),
    )


def _network(host: docker.DockerClient, run_id: str, subnet: str) -> str:
    name = f"sc-{run_id}"
    gateway = str(ipaddress.ip_network(subnet)[1])
    ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, gateway=gateway)])
    host.networks.create(name, driver="bridge", ipam=ipam, labels={OUTSIDE: run_id})
    return name


def stop(host: docker.DockerClient, lab: Lab) -> None:
    """Remove the nodes, their volumes and the network."""
    reaper.remove_run(host, lab.run_id)
    flt = {"label": f"{OUTSIDE}={lab.run_id}"}
    for container in host.containers.list(all=True, filters=flt):
        container.remove(force=True, v=True)
    for network in host.networks.list(filters=flt):
        network.remove()
    for volume in host.volumes.list(filters=flt):
        volume.remove(force=True)


def node_health(host: docker.DockerClient, lab: Lab, lines: int = 25) -> str:
    """How each node container is (status, exit code, OOM-killed) and the end of its engine's
    log: what a failure message needs when a lab engine stopped answering mid-run."""
    parts = []
    for name in lab.ips:
        try:
            container = host.containers.get(f"sc-{lab.run_id}-{name}")
        except docker.errors.NotFound:
            parts.append(f"== {name}: container gone")
            continue
        st = container.attrs["State"]
        log = container.logs(tail=lines).decode(errors="replace")
        parts.append(
            f"== {name}: {st['Status']} exit={st['ExitCode']} oom_killed={st['OOMKilled']} "
            f"started={st['StartedAt']} finished={st['FinishedAt']}\n{log}"
        )
    return "\n".join(parts)


@contextmanager
def running(host: docker.DockerClient, folder: Path) -> Iterator[Lab]:
    lab = None
    try:
        lab = start(host, folder)
        yield lab
    finally:
        if lab is not None:
            stop(host, lab)


# -- what a run could have touched -------------------------------------------------------------
def _spec(attrs: dict[str, Any]) -> str:
    return json.dumps(attrs.get("Spec"), sort_keys=True)


def state(lab: Lab) -> dict[str, Any]:
    """Everything of the swarm a run could change: its settings, tokens and CA, nodes (ID,
    role, availability, labels, state), services (spec), networks, secrets and configs, and
    on every node the containers that are not tasks, images, volumes and local networks; the
    users' service's running task count."""
    manager = lab.client(next(iter(lab.ips)))
    swarm = manager.api.inspect_swarm()
    found: dict[str, Any] = {
        "swarm": {
            "id": swarm["ID"],
            "spec": _spec(swarm),
            "tokens": swarm["JoinTokens"],
            "ca": swarm["TLSInfo"]["TrustRoot"],
        },
        "nodes": sorted(
            (
                n["ID"],
                n["Description"]["Hostname"],
                n["Spec"]["Role"],
                n["Spec"]["Availability"],
                json.dumps(n["Spec"].get("Labels") or {}, sort_keys=True),
                n["Status"]["State"],
            )
            for n in manager.api.nodes()
        ),
        "services": sorted((s["ID"], _spec(s)) for s in manager.api.services()),
        "swarm networks": sorted(
            (n["Id"], n["Name"]) for n in manager.api.networks() if n.get("Scope") == "swarm"
        ),
        "secrets": sorted((s["ID"], _spec(s)) for s in manager.api.secrets()),
        "configs": sorted((c["ID"], _spec(c)) for c in manager.api.configs()),
        "lab-web running": sum(
            t["Status"]["State"] == "running"
            for t in manager.api.tasks(filters={"service": "lab-web", "desired-state": "running"})
        ),
    }
    for name in lab.ips:
        client = lab.client(name)
        found[name] = {
            "containers": sorted(  # the users' own tasks may be replaced: not compared
                (c["Id"], c["Image"])
                for c in client.api.containers(all=True)
                if (c.get("Labels") or {}).get("com.docker.swarm.service.name") != "lab-web"
            ),
            "images": sorted(
                (i["Id"], tuple(sorted(i.get("RepoTags") or ()))) for i in client.api.images()
            ),
            "volumes": sorted(v["Name"] for v in client.api.volumes()["Volumes"] or []),
            "networks": sorted(
                (n["Id"], n["Name"]) for n in client.api.networks() if n.get("Scope") == "local"
            ),
        }
    return found


def labelled(lab: Lab) -> list[str]:
    """Every object of the swarm or its nodes that carries a swarmcheck run label."""
    flt = {"label": labels.RUN}
    manager = lab.client(next(iter(lab.ips)))
    found = [f"service {s['Spec']['Name']}" for s in manager.api.services(filters=flt)]
    found += [f"secret {s['Spec']['Name']}" for s in manager.api.secrets(filters=flt)]
    found += [f"config {c['Spec']['Name']}" for c in manager.api.configs(filters=flt)]
    for name in lab.ips:
        client = lab.client(name)
        found += [
            f"{name}: container {c['Names']}" for c in client.api.containers(all=True, filters=flt)
        ]
        found += [f"{name}: network {n['Name']}" for n in client.api.networks(filters=flt)]
        found += [
            f"{name}: volume {v['Name']}" for v in client.api.volumes(filters=flt)["Volumes"] or []
        ]
    return found


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[0] not in ("up", "down"):
        print(__doc__, file=sys.stderr)
        return 2
    host = docker.from_env()
    folder = Path(argv[1])
    if argv[0] == "up":
        lab = start(host, folder, owned=False, workers=int(argv[2]) if len(argv) == 3 else 0)
        print(
            f"--swarm=existing --swarm-existing={','.join(lab.urls)} "
            f"--swarm-existing-tls={lab.client_dir}"
        )
    else:
        stop(host, Lab.load(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
