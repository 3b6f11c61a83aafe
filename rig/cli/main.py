"""The ``rig`` command: every command group, registered on one click group."""

from __future__ import annotations

import click

from rig.cli import dcc, demo, deploy, han, lifecycle, pki, protocol


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gbsm-rig")
def main() -> None:
    """Hardware-in-the-loop test rig for GB smart metering (DUIS, GBCS, Zigbee SE HAN)."""


for _command in (
    lifecycle.up,
    lifecycle.down,
    lifecycle.status,
    lifecycle.logs,
    lifecycle.check,
    lifecycle.ssh,
    pki.pki,
    demo.demo,
    protocol.gbcs,
    protocol.duis,
    protocol.utrn,
    han.han,
    dcc.supplier,
    dcc.trace,
    deploy.deploy,
    deploy.reset,
    deploy.collect,
    deploy.health,
    deploy.inventory_cmd,
    deploy.service,
):
    main.add_command(_command)

if __name__ == "__main__":
    main()
