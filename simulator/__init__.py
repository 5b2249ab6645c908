"""A simulated IoT meter fleet for the green bond impact tracker (docs/simulator.md)."""
