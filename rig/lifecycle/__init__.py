"""The controller's strategy layer: bring a rig up and down, and report its status from
every component's own health probe."""
