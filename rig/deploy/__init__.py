"""Ansible on the rig: build what nodes install, generate the inventory, run the playbooks."""
