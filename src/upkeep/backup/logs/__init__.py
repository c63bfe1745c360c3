"""Responsible for log backups: every configured log's rotated copies archived once each,
identified by their content (`content`), kept in a store of their own (`store`), archived,
checked, restored and expired by `archive`, and archived before rotation deletes them (`guard`).
"""
