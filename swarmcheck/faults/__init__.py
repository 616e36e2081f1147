"""Fault injection: choosing targets, planning schedules, injecting and healing faults."""
