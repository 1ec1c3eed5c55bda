package storage

// CacheEntryOverhead is what the cache charges an item on top of its key and
// value (the entry's overhead and the record header), for the black-box
// tests' byte counts.
const CacheEntryOverhead = entryOverhead + recordHeaderSize
