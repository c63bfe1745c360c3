"""Responsible for the yearly disaster drill's parts: the canary heartbeat that measures the RPO
(`canary`), the registry of scratch targets a drill made and the clean-up of those a killed drill
left (`scratch`), the failover that starts the application on the restored data and probes it
(`failover`), and the timed phases (`phases`). The drill itself is `upkeep.procedures.
disaster_drill`."""
