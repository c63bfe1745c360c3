"""Responsible for the weekly dependency review's parts: what pip-audit says about a Python
environment or lock file (`pip_audit`, with `osv_folder` serving local advisories to it), the
newest versions a simple index offers (`index`), the OS's upgradable packages (`apt`), the
risk-acceptance register applied to all of them (`risk`), and minor patching with rollback
(`patching`)."""
