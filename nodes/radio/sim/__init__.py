"""The ``sim`` radio: what a Zigbee stick's firmware does, done in Python on the simulated air."""
