"""What checks do and read on a swarm, one module per catalog area, all through the client
facade (``client.swarm.SwarmClient``, ``client.local.NodeEngine``)."""
