"""The ``rig`` command: one module per command group, wired together in :mod:`rig.cli.main`."""
