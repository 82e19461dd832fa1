package rfc4733

import "fmt"

// Block is one block of an RFC 2198 redundant payload.
type Block struct {
	// PayloadType is the block's RTP payload type (0-127).
	PayloadType uint8
	// TimestampOffset is how far the block's timestamp lies before the
	// packet's RTP timestamp (0 for the primary block).
	TimestampOffset uint16
	// Data is the block's payload; it aliases the parsed buffer.
	Data []byte
}

// ParseRedundant splits an RFC 2198 payload into its blocks, oldest
// (first header) to primary (last), appending them to dst. Each block's
// Data aliases b. For telephone events, feed each block to the Receiver
// with timestamp (packet timestamp - TimestampOffset), in order.
//
//	 0                   1                    2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|F|   block PT  |  timestamp offset         |   block length    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|0|   block PT  |   (last header: 1 byte)
func ParseRedundant(dst []Block, b []byte) ([]Block, error) {
	// First pass: find the end of the headers and check the lengths.
	off, total := 0, 0
	for {
		if off >= len(b) {
			return dst, fmt.Errorf("%w: header runs past the end", ErrRedundancy)
		}
		if b[off]&0x80 == 0 {
			off++
			break
		}
		if off+4 > len(b) {
			return dst, fmt.Errorf("%w: header runs past the end", ErrRedundancy)
		}
		total += int(b[off+2]&0x03)<<8 | int(b[off+3])
		off += 4
	}
	if off+total > len(b) {
		return dst, fmt.Errorf("%w: blocks of %d bytes exceed the %d bytes after the headers",
			ErrRedundancy, total, len(b)-off)
	}
	// Second pass: slice the data, in header order; the primary block
	// (the 1-byte header) takes the rest.
	data := off
	for h := 0; ; h += 4 {
		if b[h]&0x80 == 0 {
			dst = append(dst, Block{PayloadType: b[h] & 0x7F, Data: b[data:len(b):len(b)]})
			return dst, nil
		}
		n := int(b[h+2]&0x03)<<8 | int(b[h+3])
		dst = append(dst, Block{
			PayloadType:     b[h] & 0x7F,
			TimestampOffset: uint16(b[h+1])<<6 | uint16(b[h+2]>>2),
			Data:            b[data : data+n : data+n],
		})
		data += n
	}
}

// AppendRedundant appends an RFC 2198 payload made of blocks (oldest
// first, primary last) to dst. Every block but the last needs a data
// length below 1024 and the offsets must fit in 14 bits.
func AppendRedundant(dst []byte, blocks []Block) ([]byte, error) {
	if len(blocks) == 0 {
		return dst, fmt.Errorf("%w: no blocks", ErrRedundancy)
	}
	for i, bl := range blocks {
		if bl.PayloadType > 127 {
			return dst, fmt.Errorf("%w: block %d payload type %d", ErrRedundancy, i, bl.PayloadType)
		}
		if i < len(blocks)-1 && (len(bl.Data) > 0x3FF || bl.TimestampOffset > 0x3FFF) {
			return dst, fmt.Errorf("%w: block %d length %d or offset %d too large",
				ErrRedundancy, i, len(bl.Data), bl.TimestampOffset)
		}
	}
	for i, bl := range blocks {
		if i == len(blocks)-1 {
			dst = append(dst, bl.PayloadType)
			break
		}
		n := len(bl.Data)
		dst = append(dst, 0x80|bl.PayloadType, byte(bl.TimestampOffset>>6),
			byte(bl.TimestampOffset<<2)|byte(n>>8), byte(n))
	}
	for _, bl := range blocks {
		dst = append(dst, bl.Data...)
	}
	return dst, nil
}
