"""Responsible for the monthly security review's library: the host and database permission
inventory, its baseline and drift, the access logs, and Lynis's report."""
