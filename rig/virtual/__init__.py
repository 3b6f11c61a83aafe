"""The virtual rig's machinery on one Linux machine: the supervisor that plays systemd, the
network namespaces with an sshd per node, service units, and the simulated air."""
