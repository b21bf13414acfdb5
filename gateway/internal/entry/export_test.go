package entry

import "hash/crc32"

// crcHead computes a head checksum over two parts, as AppendEncode does.
func crcHead(fixed, variable []byte) uint32 {
	return crc32.Update(crc32.Checksum(fixed, castagnoli), castagnoli, variable)
}
