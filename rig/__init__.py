"""The GB smart metering test rig: controller, description, lifecycle and CLI."""

__version__ = "0.1.0"
