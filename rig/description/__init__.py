"""The rig description: one YAML file that drives the whole rig.

``load_rig(path)`` returns a validated :class:`~rig.description.model.Rig`;
``default_rig()`` the built-in virtual rig. Problems raise
:class:`~rig.description.errors.DescriptionError` naming file, line and field.
"""

from rig.description.errors import DescriptionError, Problem
from rig.description.load import DEFAULT_RIG_PATH, default_rig, load_rig, parse_rig
from rig.description.model import Node, Rig, Role, User

__all__ = [
    "DEFAULT_RIG_PATH",
    "DescriptionError",
    "Node",
    "Problem",
    "Rig",
    "Role",
    "User",
    "default_rig",
    "load_rig",
    "parse_rig",
]
