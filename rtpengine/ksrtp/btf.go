package ksrtp

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// The program's BPF Type Format data: the kernel needs it for the
// bpf_loop callbacks (their func_info). Clang leaves the sizes of data
// sections and the offsets of their variables to the loader; fixBTF
// fills them in from the ELF section headers and symbol table.

var errBTF = errors.New("ksrtp: BTF")

const (
	btfMagic        = 0xeb9f
	btfKindArray    = 3
	btfKindStruct   = 4
	btfKindUnion    = 5
	btfKindEnum     = 6
	btfKindFuncProt = 13
	btfKindVar      = 14
	btfKindDatasec  = 15
	btfKindDeclTag  = 17
	btfKindEnum64   = 19
	btfKindInt      = 1
)

// fixBTF returns a copy of the .BTF section with every DATASEC's size
// and variable offsets set.
func fixBTF(f *elf.File, raw []byte) ([]byte, error) {
	b := append([]byte(nil), raw...)
	le := binary.LittleEndian
	if len(b) < 24 || le.Uint16(b) != btfMagic {
		return nil, fmt.Errorf("%w: bad header", errBTF)
	}
	hdr := int(le.Uint32(b[4:]))
	typeOff, typeLen := hdr+int(le.Uint32(b[8:])), int(le.Uint32(b[12:]))
	strOff, strLen := hdr+int(le.Uint32(b[16:])), int(le.Uint32(b[20:]))
	if typeOff+typeLen > len(b) || strOff+strLen > len(b) {
		return nil, fmt.Errorf("%w: sections out of range", errBTF)
	}
	str := func(off uint32) string { return cString(b[strOff:][off:]) }
	syms, _ := f.Symbols()
	symVal := map[string]uint64{}
	for _, s := range syms {
		symVal[s.Name] = s.Value
	}
	// First pass: offsets of all types (ids from 1) to resolve VAR names.
	var offs []int
	for p := typeOff; p < typeOff+typeLen; {
		if p+12 > typeOff+typeLen {
			return nil, fmt.Errorf("%w: truncated type", errBTF)
		}
		offs = append(offs, p)
		info := le.Uint32(b[p+4:])
		kind, vlen := info>>24&0x1f, int(info&0xffff)
		p += 12
		switch kind {
		case btfKindInt, btfKindVar, btfKindDeclTag:
			p += 4
		case btfKindArray:
			p += 12
		case btfKindStruct, btfKindUnion, btfKindDatasec, btfKindEnum64:
			p += 12 * vlen
		case btfKindEnum, btfKindFuncProt:
			p += 8 * vlen
		}
	}
	for _, p := range offs {
		info := le.Uint32(b[p+4:])
		if info>>24&0x1f != btfKindDatasec {
			continue
		}
		name := str(le.Uint32(b[p:]))
		sec := f.Section(name)
		if sec == nil {
			return nil, fmt.Errorf("%w: data section %q not in the object", errBTF, name)
		}
		le.PutUint32(b[p+8:], uint32(sec.Size))
		for i := 0; i < int(info&0xffff); i++ {
			v := p + 12 + 12*i
			id := int(le.Uint32(b[v:]))
			if id < 1 || id > len(offs) {
				return nil, fmt.Errorf("%w: variable type %d", errBTF, id)
			}
			vn := str(le.Uint32(b[offs[id-1]:]))
			val, ok := symVal[vn]
			if !ok {
				return nil, fmt.Errorf("%w: no symbol for %q", errBTF, vn)
			}
			le.PutUint32(b[v+4:], uint32(val))
		}
	}
	return b, nil
}

// funcInfo returns the func_info records of one program section from
// .BTF.ext, instruction offsets in instructions as the kernel wants
// them: pairs of (instruction, BTF type id).
func funcInfo(btf, ext []byte, section string) (rec []byte, recSize uint32, err error) {
	le := binary.LittleEndian
	if len(ext) < 24 || le.Uint16(ext) != btfMagic || len(btf) < 24 {
		return nil, 0, fmt.Errorf("%w: bad .BTF.ext header", errBTF)
	}
	strs := btf[int(le.Uint32(btf[4:]))+int(le.Uint32(btf[16:])):]
	hdr := int(le.Uint32(ext[4:]))
	off, n := hdr+int(le.Uint32(ext[8:])), int(le.Uint32(ext[12:]))
	if off+n > len(ext) || n < 4 {
		return nil, 0, fmt.Errorf("%w: func_info out of range", errBTF)
	}
	fi := ext[off : off+n]
	recSize = le.Uint32(fi)
	if recSize < 8 {
		return nil, 0, fmt.Errorf("%w: func_info record size %d", errBTF, recSize)
	}
	for p := 4; p+8 <= len(fi); {
		nameOff, cnt := le.Uint32(fi[p:]), int(le.Uint32(fi[p+4:]))
		p += 8
		end := p + cnt*int(recSize)
		if end > len(fi) || int(nameOff) >= len(strs) {
			return nil, 0, fmt.Errorf("%w: func_info truncated", errBTF)
		}
		if cString(strs[nameOff:]) == section {
			out := append([]byte(nil), fi[p:end]...)
			for r := 0; r < len(out); r += int(recSize) {
				le.PutUint32(out[r:], le.Uint32(out[r:])/8)
			}
			return out, recSize, nil
		}
		p = end
	}
	return nil, 0, fmt.Errorf("%w: no func_info for section %q", errBTF, section)
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
