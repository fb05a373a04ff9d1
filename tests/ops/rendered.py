def prod_backup_settings():
    return {"configuration": {"wal": {"compression": "gzip"}, "data": {"compression": "gzip", "jobs": 2, "immediateCheckpoint": True}}, "archive_timeout": "5min"}
