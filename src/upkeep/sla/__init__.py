"""Support incidents and their SLA clocks: the pure due-time computation (`clock`) and the
incident event log read from the evidence (`incidents`)."""
