// Package entry encodes and decodes a stored cache entry: the response
// (status, header block, body) and the metadata the gateway needs to judge its
// freshness (RFC 9111, Section 4.2) and revalidate it (validators).
//
// One encoding serves both tiers: L1 (freecache) and L2 (Redis) store the
// bytes of [Entry.AppendEncode] as they are. [Decode] reads them back without
// copying or allocating: the slices of the decoded [Entry] alias the input.
//
// # Format (version 1)
//
// All integers are big-endian.
//
//	off  size  field
//	  0     1  magic 0xFC
//	  1     1  version (1)
//	  2     2  status (100..999)
//	  4     2  flags
//	  6    56  request time, response time, initial age, TTL, SWR, SIE, body
//	           length: seven int64 (unix nanoseconds, nanoseconds, bytes)
//	 62    20  lengths of ETag, Last-Modified, tags, header block, body: five uint32
//	 82     4  CRC-32C of the body
//	 86     4  CRC-32C of bytes 0..85 followed by the ETag, Last-Modified,
//	           tags and header block
//	 90        ETag, Last-Modified, tags, header block, body
//
// The header block is a sequence of fields, each a uvarint name length, the
// name, a uvarint value length and the value; see [AppendHeader] and
// [NextHeader].
//
// # Why two checksums?
//
// Decode runs on every cache hit, so it checks only the head checksum, whose
// cost does not grow with the body: a foreign, truncated or torn value (an
// older format in Redis, a partial write) fails it. [Verify] also checks the
// body checksum; use it where the bytes crossed a network or a process
// boundary (an L2 read), where its cost is small beside the round trip.
//
// A change of layout increments the version; Decode rejects any version it
// does not know with [ErrVersion], which the gateway treats as a miss.
package entry
