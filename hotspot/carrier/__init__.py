"""The carrier's own figure of the plan's data: USSD and SMS read, per SIM, to calibrate the plan."""
