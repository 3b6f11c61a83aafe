"""From a rig description to a running rig's files: the run plan (what runs where, on which
address and port), then the configuration each component reads, written through the
typed records its reader owns."""
