"""Usage history: hourly, daily and monthly buckets, retention and compaction."""
