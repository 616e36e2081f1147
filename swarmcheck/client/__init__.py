"""The client facade over docker-py: building clients, translating errors, typed swarm calls."""
