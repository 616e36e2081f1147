"""Cluster provisioning: node containers, their network, the swarm, its reset and teardown."""
