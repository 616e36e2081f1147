"""Cluster provisioning: host engine, images, node containers, the swarm and its reset."""
