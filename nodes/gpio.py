"""A node's GPIO wiring through gpiozero: relays, valves, LEDs and buttons.

On a Pi the pins are real (gpiozero's default factory, lgpio on a Pi 5); in the
virtual rig gpiozero's MockFactory stands in, with the same devices and states,
so role code drives a relay the same way on both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpiozero import LED, Button, Device, OutputDevice


class Wiring:
    """gpiozero devices by function name (``relay``, ``led.supply``, ``button.restore``)."""

    def __init__(self, pins: dict[str, str], pin_factory: str = "mock") -> None:
        self.factory = _factory(pin_factory)
        self.devices: dict[str, Device] = {}
        for function, pin in pins.items():
            if function in ("relay", "valve"):
                self.devices[function] = OutputDevice(pin, pin_factory=self.factory)
            elif function.startswith("led."):
                self.devices[function] = LED(pin, pin_factory=self.factory)
            elif function.startswith("button."):
                self.devices[function] = Button(pin, pin_factory=self.factory)
            else:
                raise ValueError(f"unknown GPIO function {function!r}")

    def output(self, function: str) -> OutputDevice | None:
        dev = self.devices.get(function)
        return dev if isinstance(dev, OutputDevice) else None

    def buttons(self) -> list[str]:
        return [f.removeprefix("button.") for f in self.devices if f.startswith("button.")]

    def on_press(self, function: str, callback: Callable[[], object]) -> None:
        """Call ``callback`` when the button is pressed (no-op when it is not wired)."""
        dev = self.devices.get(function)
        if isinstance(dev, Button):
            dev.when_pressed = lambda: callback()

    def press(self, function: str) -> None:
        """A press of ``function``: the mock pin goes low and back high (the buttons pull
        up), so gpiozero fires ``when_pressed`` as it would for a finger; a real pin cannot
        be driven from software, so its handler is called directly. KeyError: no such
        button."""
        dev = self.devices.get(function)
        if not isinstance(dev, Button):
            raise KeyError(function)
        pin = dev.pin
        if hasattr(pin, "drive_low"):
            pin.drive_low()
            pin.drive_high()
        elif dev.when_pressed is not None:
            dev.when_pressed()

    def set(self, function: str, on: bool) -> None:
        dev = self.output(function)
        if dev is not None:
            dev.value = 1 if on else 0

    def state(self) -> dict[str, Any]:
        """Every pin's function, pin name and current value, for health and dashboards."""
        return {
            function: {"pin": str(dev.pin), "value": int(dev.value)}
            for function, dev in self.devices.items()
        }

    def close(self) -> None:
        for dev in self.devices.values():
            dev.close()
        self.devices.clear()


def _factory(name: str) -> Any:
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    if name == "default":
        return None  # gpiozero picks the board's factory (lgpio on a Pi 5)
    raise ValueError(f"unknown pin factory {name!r}: use 'mock' or 'default'")
