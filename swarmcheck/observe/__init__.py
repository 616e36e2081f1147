"""Observation: samplers that read a swarm over a window into checker inputs (one sampler
base, ``sampler.Sampler``), and one-off reads of what the engines run."""
