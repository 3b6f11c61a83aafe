"""Transforms of the meters' firmware use cases (11.2 Read Firmware Version: ECS52, GCS38),
issue 16."""

from __future__ import annotations
