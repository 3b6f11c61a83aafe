"""Network namespaces for virtual nodes: one per node, bridged to the controller.

Each node lives in ``rig<instance>-<node>`` with an ``eth0`` on the rig's subnet;
the host end of its veth joins the bridge ``rb<instance>``, which holds the
controller's address (broker, air). Everything is named after the instance, so
teardown finds it all again even after a crash, and touches nothing else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import signal

import psutil

from rig.plan.model import Plan

log = logging.getLogger("rig.virtual.netns")


class NetnsError(RuntimeError):
    pass


async def ip(*args: str, check: bool = True, netns: str | None = None) -> str:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if check and proc.returncode != 0:
        raise NetnsError(f"`{' '.join(argv)}` failed: {err.decode().strip()}")
    return out.decode()


async def _json(*args: str) -> list[dict]:
    out = await ip("-json", *args, check=False)
    return json.loads(out) if out.strip() else []


async def namespaces(instance: str) -> list[str]:
    return [
        n["name"] for n in await _json("netns", "list") if n["name"].startswith(f"rig{instance}-")
    ]


async def _links(instance: str) -> list[str]:
    return [
        link["ifname"]
        for link in await _json("link", "show")
        if link.get("ifname") == f"rb{instance}"
        or link.get("ifname", "").startswith(f"rv{instance}")
    ]


async def _address_owner(address: str) -> str | None:
    for link in await _json("-4", "addr", "show"):
        if any(a.get("local") == address for a in link.get("addr_info", [])):
            return link.get("ifname")
    return None


async def setup(plan: Plan) -> None:
    assert plan.bridge is not None and plan.prefixlen is not None
    owner = await _address_owner(plan.host_address)
    if owner is not None:
        subnet = ipaddress.ip_interface(f"{plan.host_address}/{plan.prefixlen}").network
        raise NetnsError(
            f"address {plan.host_address} is already on interface {owner}: another rig (or "
            f"network) uses subnet {subnet}; set virtual.subnet in the rig description "
            "or `rig down` the other rig"
        )
    await ip("link", "add", plan.bridge, "type", "bridge")
    await ip("addr", "add", f"{plan.host_address}/{plan.prefixlen}", "dev", plan.bridge)
    await ip("link", "set", plan.bridge, "up")
    for link in plan.links:
        await ip("netns", "add", link.netns)
        await ip(
            "link", "add", link.veth, "type", "veth", "peer", "name", "eth0", "netns", link.netns
        )
        await ip("link", "set", link.veth, "master", plan.bridge, "up")
        await ip("addr", "add", f"{link.address}/{plan.prefixlen}", "dev", "eth0", netns=link.netns)
        await ip("link", "set", "lo", "up", netns=link.netns)
        await ip("link", "set", "eth0", "up", netns=link.netns)
    log.info("netns.up", extra={"bridge": plan.bridge, "nodes": len(plan.links)})


async def pids_in(netns: str) -> list[int]:
    out = await ip("netns", "pids", netns, check=False)
    return [int(p) for p in out.split() if p.isdigit()]


async def teardown(instance: str) -> dict[str, int]:
    """Remove every namespace, veth and bridge of ``instance``; kill what still runs inside."""
    removed = {"namespaces": 0, "links": 0, "processes": 0}
    for ns in await namespaces(instance):
        for pid in await pids_in(ns):
            try:
                psutil.Process(pid).send_signal(signal.SIGKILL)
                removed["processes"] += 1
            except psutil.Error:
                pass
        await ip("netns", "del", ns, check=False)
        removed["namespaces"] += 1
    for name in await _links(instance):
        await ip("link", "del", name, check=False)
        removed["links"] += 1
    return removed


async def leftovers(instance: str) -> list[str]:
    """Names of this instance's namespaces and links still present."""
    return [*await namespaces(instance), *await _links(instance)]
