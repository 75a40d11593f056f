"""The simpy discrete-event engine that runs a tile schedule on the hardware components."""
