package storage

// CacheEntryOverhead exports entryOverhead to the black-box tests, which
// check the cache's byte counts.
const CacheEntryOverhead = entryOverhead
