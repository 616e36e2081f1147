"""Workloads run on the swarm under test: the versioned web service and probes of it."""
