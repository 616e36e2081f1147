"""Machine preparation: the tools swarmcheck builds on this machine before it checks anything
(for now the history checker, ``history_checker``)."""
