package guard

import "bytes"

// checkSDP is a cheap sanity check of an SDP body (RFC 8866): it must
// start with v=0, every line must be "x=value" with a lower-case letter,
// m= lines must carry a port 0-65535 and a port count, their number is
// bounded, and c=/o= must name IN IP4/IP6. It does not allocate.
func checkSDP(body []byte, maxMedia int) bool {
	if !bytes.HasPrefix(body, []byte("v=0")) {
		return false
	}
	media := 0
	for len(body) > 0 {
		nl := bytes.IndexByte(body, '\n')
		var line []byte
		if nl < 0 {
			line, body = body, nil
		} else {
			line, body = body[:nl], body[nl+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return false
		}
		v := line[2:]
		switch line[0] {
		case 'm':
			media++
			if media > maxMedia {
				return false
			}
			f := fieldAt(v, 1)
			if sl := bytes.IndexByte(f, '/'); sl >= 0 {
				if n := atoi(f[sl+1:]); n < 1 || n > 64 {
					return false
				}
				f = f[:sl]
			}
			if p := atoi(f); p < 0 || p > 65535 {
				return false
			}
			if len(fieldAt(v, 3)) == 0 {
				return false
			}
		case 'c':
			if !bytes.HasPrefix(v, []byte("IN IP4 ")) && !bytes.HasPrefix(v, []byte("IN IP6 ")) {
				return false
			}
		case 'o':
			if len(fieldAt(v, 5)) == 0 {
				return false
			}
		}
	}
	return true
}

// fieldAt returns the i-th space-separated field of v.
func fieldAt(v []byte, i int) []byte {
	for range i {
		sp := bytes.IndexByte(v, ' ')
		if sp < 0 {
			return nil
		}
		v = v[sp+1:]
	}
	if sp := bytes.IndexByte(v, ' '); sp >= 0 {
		return v[:sp]
	}
	return v
}
