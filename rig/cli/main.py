"""The ``rig`` command: every command group, loaded only when it is run.

A command's module (and what it imports: aiohttp, Ansible's runner, the gateway's store)
is imported when that command runs, so ``rig status`` does not pay for ``rig supplier``;
``rig --help`` loads them all to list them.
"""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute"
COMMANDS = {
    "up": "rig.cli.lifecycle:up",
    "down": "rig.cli.lifecycle:down",
    "status": "rig.cli.status:status",
    "logs": "rig.cli.lifecycle:logs",
    "check": "rig.cli.lifecycle:check",
    "ssh": "rig.cli.lifecycle:ssh",
    "pki": "rig.cli.pki:pki",
    "demo": "rig.cli.demo:demo",
    "gbcs": "rig.cli.protocol:gbcs",
    "duis": "rig.cli.protocol:duis",
    "utrn": "rig.cli.protocol:utrn",
    "han": "rig.cli.han:han",
    "ppmid": "rig.cli.ppmid:ppmid",
    "gpio": "rig.cli.gpio:gpio",
    "wan": "rig.cli.wan:wan_group",
    "fault": "rig.cli.fault:fault",
    "firmware": "rig.cli.firmware:firmware",
    "supplier": "rig.cli.dcc:supplier",
    "trace": "rig.cli.dcc:trace",
    "conformance": "rig.cli.conformance:conformance",
    "deploy": "rig.cli.deploy:deploy",
    "reset": "rig.cli.deploy:reset",
    "collect": "rig.cli.deploy:collect",
    "health": "rig.cli.deploy:health",
    "inventory": "rig.cli.deploy:inventory_cmd",
    "service": "rig.cli.deploy:service",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gbsm-rig")
def main() -> None:
    """Hardware-in-the-loop test rig for GB smart metering (DUIS, GBCS, Zigbee SE HAN)."""


if __name__ == "__main__":
    main()
