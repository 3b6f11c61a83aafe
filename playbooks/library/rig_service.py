#!/usr/bin/python
# GPL-3.0-or-later
"""Ansible module: start, stop or restart a component under the virtual rig's supervisor.

On a Pi, systemd runs the node service; on the virtual rig (and for the
controller's own components) the rig's supervisor does, and this module is its
``systemctl``. It speaks the supervisor's control socket: one JSON line each way.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.rig_control import ask, supervisor_down

DOCUMENTATION = r"""
module: rig_service
short_description: Manage a component of the virtual rig through its supervisor
options:
  socket:
    description: Path of the supervisor's control socket
    required: true
    type: path
  unit:
    description: Component name (a node's name, gateway, dcc-users...)
    required: true
    type: str
  state:
    description: Wanted state
    choices: [started, stopped, restarted]
    default: started
    type: str
"""

OPS = {"started": "start", "stopped": "stop", "restarted": "restart"}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "path", "required": True},
            "unit": {"type": "str", "required": True},
            "state": {"type": "str", "default": "started", "choices": list(OPS)},
        },
        supports_check_mode=True,
    )
    path, unit, state = module.params["socket"], module.params["unit"], module.params["state"]
    try:
        units = ask(path, "status", None).get("units", {})
    except OSError as exc:
        module.fail_json(msg=supervisor_down(path, exc))
    current = units.get(unit, {})
    running = current.get("state") == "running"
    if module.check_mode:
        changed = state == "restarted" or running != (state == "started")
        module.exit_json(changed=changed, unit=unit, state=current.get("state"))
    answer = ask(path, OPS[state], unit)
    if not answer.get("ok"):
        module.fail_json(
            msg=f"{unit}: {answer.get('error') or 'did not start'}", unit=unit, answer=answer
        )
    module.exit_json(
        changed=bool(answer.get("changed")),
        unit=unit,
        state=answer.get("state"),
        pid=answer.get("pid"),
        source=answer.get("source"),
    )


if __name__ == "__main__":
    main()
