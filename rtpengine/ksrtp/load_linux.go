//go:build linux

package ksrtp

import (
	"bytes"
	"debug/elf"
	_ "embed"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

//go:embed bpf/srtp.o
var object []byte

// bpf(2) commands, map and program types, flags.
const (
	cmdMapCreate   = 0
	cmdProgLoad    = 5
	cmdProgTest    = 10
	cmdBTFLoad     = 18
	cmdObjInfo     = 15
	cmdEnableStats = 32
	mapArray       = 2
	progSchedCls   = 3
	flagMmapable   = 1 << 10
	pseudoMapVal   = 2
	pseudoFunc     = 4
	insnLdImm64    = 0x18
	programSecton  = "tc"
)

type mapCreateAttr struct {
	Type, KeySize, ValueSize, MaxEntries, Flags, InnerFD, NUMANode uint32
	Name                                                           [16]byte
	Ifindex, BTFFD, BTFKey, BTFValue, BTFVmlinux                   uint32
	Extra                                                          uint64
}

type progLoadAttr struct {
	Type, InsnCnt            uint32
	Insns, License           uint64
	LogLevel, LogSize        uint32
	LogBuf                   uint64
	KernVersion, Flags       uint32
	Name                     [16]byte
	Ifindex, AttachType      uint32
	BTFFD, FuncInfoRecSize   uint32
	FuncInfo                 uint64
	FuncInfoCnt, LineRecSize uint32
	LineInfo                 uint64
	LineInfoCnt, AttachBTFID uint32
	_                        [64]byte
}

type btfLoadAttr struct {
	BTF                     uint64
	LogBuf                  uint64
	Size, LogSize, LogLevel uint32
	_                       [20]byte
}

type testRunAttr struct {
	ProgFD, Retval, SizeIn, SizeOut uint32
	DataIn, DataOut                 uint64
	Repeat, Duration                uint32
	CtxSizeIn, CtxSizeOut           uint32
	CtxIn, CtxOut                   uint64
	Flags, CPU, BatchSize           uint32
	_                               uint32
}

func sysBPF(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// program is the loaded tc program and its memory-mapped global data.
type program struct {
	fd, mapFD int
	mem       []byte
	// offsets of the globals inside mem
	portSlot, streams, te, sbox int
}

// loadProgram loads the embedded object: one array map for .bss
// (memory-mapped), the "tc" section with its relocations to .bss.
func loadProgram() (*program, error) {
	f, err := elf.NewFile(bytes.NewReader(object))
	if err != nil {
		return nil, fmt.Errorf("%w: object: %w", ErrLoad, err)
	}
	prog, bss := f.Section(programSecton), f.Section(".bss")
	if prog == nil || bss == nil {
		return nil, fmt.Errorf("%w: object lacks %q or .bss", ErrLoad, programSecton)
	}
	code, err := prog.Data()
	if err != nil {
		return nil, fmt.Errorf("%w: object: %w", ErrLoad, err)
	}
	code = bytes.Clone(code)
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("%w: object symbols: %w", ErrLoad, err)
	}
	p := &program{fd: -1, mapFD: -1}
	want := map[string]*int{"port_slot": &p.portSlot, "streams": &p.streams, "Te": &p.te, "Sbox": &p.sbox}
	sizes := map[string]uint64{"port_slot": 2 * 65536, "streams": streamSize * maxStreams, "Te": 4096, "Sbox": 256}
	for _, s := range syms {
		if ptr, ok := want[s.Name]; ok {
			if s.Size != sizes[s.Name] {
				return nil, fmt.Errorf("%w: %s is %d bytes in the object, %d here", ErrLoad, s.Name, s.Size, sizes[s.Name])
			}
			*ptr = int(s.Value)
			delete(want, s.Name)
		}
	}
	for name := range want {
		return nil, fmt.Errorf("%w: object lacks the global %s", ErrLoad, name)
	}
	attr := mapCreateAttr{Type: mapArray, KeySize: 4, ValueSize: uint32(bss.Size), MaxEntries: 1, Flags: flagMmapable}
	copy(attr.Name[:], "ksrtp_bss")
	p.mapFD, err = sysBPF(cmdMapCreate, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		return nil, fmt.Errorf("%w: map create (%d bytes): %w", ErrLoad, bss.Size, err)
	}
	size := (int(bss.Size) + os.Getpagesize() - 1) &^ (os.Getpagesize() - 1)
	p.mem, err = unix.Mmap(p.mapFD, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("%w: mmap of the global data: %w", ErrLoad, err)
	}
	if err := relocate(f, prog, code, syms, bss, p.mapFD); err != nil {
		p.close()
		return nil, err
	}
	btfFD, fi, fiSize, err := loadBTF(f)
	if err != nil {
		p.close()
		return nil, err
	}
	defer unix.Close(btfFD)
	lic := []byte("GPL\x00")
	load := func(logBuf []byte) (int, error) {
		a := progLoadAttr{Type: progSchedCls, InsnCnt: uint32(len(code) / 8),
			Insns: uint64(uintptr(unsafe.Pointer(&code[0]))), License: uint64(uintptr(unsafe.Pointer(&lic[0])))}
		copy(a.Name[:], "openborder_srtp")
		a.BTFFD, a.FuncInfoRecSize = uint32(btfFD), fiSize
		a.FuncInfo, a.FuncInfoCnt = uint64(uintptr(unsafe.Pointer(&fi[0]))), uint32(len(fi)/int(fiSize))
		if logBuf != nil {
			a.LogLevel, a.LogSize, a.LogBuf = 1, uint32(len(logBuf)), uint64(uintptr(unsafe.Pointer(&logBuf[0])))
		}
		fd, err := sysBPF(cmdProgLoad, unsafe.Pointer(&a), unsafe.Sizeof(a))
		runtime.KeepAlive(code)
		runtime.KeepAlive(lic)
		runtime.KeepAlive(logBuf)
		runtime.KeepAlive(fi)
		return fd, err
	}
	p.fd, err = load(nil)
	if err != nil {
		logBuf := make([]byte, 64<<20)
		_, _ = load(logBuf)
		l := strings.TrimRight(cString(logBuf), "\n")
		l = l[max(0, len(l)-2000):] // the verifier's last words say why
		p.close()
		return nil, fmt.Errorf("%w: program load: %w (verifier: %s)", ErrLoad, err, l)
	}
	le := binary.LittleEndian
	for r := range 4 { // Te[r][x] is Te0[x] rotated right by 8r bits
		for i, v := range te0() {
			le.PutUint32(p.mem[p.te+1024*r+4*i:], v>>(8*r)|v<<(32-8*r))
		}
	}
	copy(p.mem[p.sbox:], sbox[:])
	return p, nil
}

// loadBTF loads the object's BTF into the kernel and returns it with
// the program section's func_info records.
func loadBTF(f *elf.File) (fd int, fi []byte, recSize uint32, err error) {
	sb, se := f.Section(".BTF"), f.Section(".BTF.ext")
	if sb == nil || se == nil {
		return -1, nil, 0, fmt.Errorf("%w: object has no BTF", ErrLoad)
	}
	raw, err := sb.Data()
	if err != nil {
		return -1, nil, 0, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	ext, err := se.Data()
	if err != nil {
		return -1, nil, 0, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	btf, err := fixBTF(f, raw)
	if err != nil {
		return -1, nil, 0, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	fi, recSize, err = funcInfo(btf, ext, programSecton)
	if err != nil {
		return -1, nil, 0, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	logBuf := make([]byte, 1<<16)
	a := btfLoadAttr{BTF: uint64(uintptr(unsafe.Pointer(&btf[0]))), Size: uint32(len(btf)),
		LogBuf: uint64(uintptr(unsafe.Pointer(&logBuf[0]))), LogSize: uint32(len(logBuf)), LogLevel: 1}
	fd, err = sysBPF(cmdBTFLoad, unsafe.Pointer(&a), unsafe.Sizeof(a))
	runtime.KeepAlive(btf)
	runtime.KeepAlive(logBuf)
	if err != nil {
		l := strings.TrimSpace(cString(logBuf))
		return -1, nil, 0, fmt.Errorf("%w: BTF load: %w (%s)", ErrLoad, err, l)
	}
	return fd, fi, recSize, nil
}

// relocate points every 64-bit immediate load of a .bss symbol at the
// map's value (BPF_PSEUDO_MAP_VALUE).
func relocate(f *elf.File, prog *elf.Section, code []byte, syms []elf.Symbol, bss *elf.Section, mapFD int) error {
	var rel *elf.Section
	for _, s := range f.Sections {
		if s.Type == elf.SHT_REL && s.Name == ".rel"+programSecton {
			rel = s
		}
	}
	if rel == nil {
		return nil
	}
	data, err := rel.Data()
	if err != nil {
		return fmt.Errorf("%w: relocations: %w", ErrLoad, err)
	}
	for i := 0; i+16 <= len(data); i += 16 {
		off := binary.LittleEndian.Uint64(data[i:])
		info := binary.LittleEndian.Uint64(data[i+8:])
		si := int(info>>32) - 1
		if si < 0 || si >= len(syms) || off+16 > uint64(len(code)) || code[off] != insnLdImm64 {
			return fmt.Errorf("%w: relocation at %d not supported", ErrLoad, off)
		}
		sym := syms[si]
		ins := code[off : off+16]
		addend := int64(int32(binary.LittleEndian.Uint32(ins[4:])))
		if int(sym.Section) < len(f.Sections) && f.Sections[sym.Section] == prog {
			// The address of a function of the program (a bpf_loop
			// callback): an instruction offset relative to the next one.
			target := (int64(sym.Value) + addend) / 8
			ins[1] = ins[1]&0x0f | pseudoFunc<<4
			binary.LittleEndian.PutUint32(ins[4:], uint32(target-int64(off/8)-1))
			continue
		}
		if int(sym.Section) >= len(f.Sections) || f.Sections[sym.Section] != bss {
			return fmt.Errorf("%w: relocation to %q outside .bss", ErrLoad, sym.Name)
		}
		ins[1] = ins[1]&0x0f | pseudoMapVal<<4
		binary.LittleEndian.PutUint32(ins[4:], uint32(mapFD))
		binary.LittleEndian.PutUint32(ins[12:], uint32(int64(sym.Value)+addend))
	}
	return nil
}

func (p *program) close() {
	if p.mem != nil {
		_ = unix.Munmap(p.mem)
		p.mem = nil
	}
	if p.fd >= 0 {
		_ = unix.Close(p.fd)
		p.fd = -1
	}
	if p.mapFD >= 0 {
		_ = unix.Close(p.mapFD)
		p.mapFD = -1
	}
}

// testRun runs the program on an Ethernet frame repeat times
// (BPF_PROG_TEST_RUN) and returns the frame after the last run, the
// program's verdict and the mean time per run in nanoseconds.
func (p *program) testRun(frame []byte, repeat int) (out []byte, verdict uint32, ns uint32, err error) {
	buf := make([]byte, len(frame)+256)
	a := testRunAttr{ProgFD: uint32(p.fd), SizeIn: uint32(len(frame)), SizeOut: uint32(len(buf)),
		DataIn: uint64(uintptr(unsafe.Pointer(&frame[0]))), DataOut: uint64(uintptr(unsafe.Pointer(&buf[0]))), Repeat: uint32(repeat)}
	_, err = sysBPF(cmdProgTest, unsafe.Pointer(&a), unsafe.Sizeof(a))
	runtime.KeepAlive(frame)
	runtime.KeepAlive(buf)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("ksrtp: test run: %w", err)
	}
	return buf[:a.SizeOut], a.Retval, a.Duration, nil
}

// progInfo reads the program's run statistics (bpf_prog_info: run_time_ns
// and run_cnt, kept only while the kernel.bpf_stats_enabled sysctl is 1)
// and the instructions the verifier processed.
func (p *program) progInfo() (RunStats, error) {
	var info [232]byte
	attr := struct {
		FD, Len uint32
		Info    uint64
	}{FD: uint32(p.fd), Len: uint32(len(info)), Info: uint64(uintptr(unsafe.Pointer(&info[0])))}
	_, err := sysBPF(cmdObjInfo, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(&info)
	if err != nil {
		return RunStats{}, fmt.Errorf("ksrtp: program info: %w", err)
	}
	le := binary.LittleEndian
	return RunStats{RunNs: le.Uint64(info[192:]), Runs: le.Uint64(info[200:]), VerifiedInsns: le.Uint32(info[216:])}, nil
}

// EnableStats turns on the kernel's run-time statistics of BPF programs
// (BPF_ENABLE_STATS) until the returned file is closed: the same as the
// kernel.bpf_stats_enabled sysctl, for every program, scoped to the
// caller's need. Each program run then costs two clock reads more.
func EnableStats() (*os.File, error) {
	attr := struct{ Type uint32 }{Type: 0} // BPF_STATS_RUN_TIME
	fd, err := sysBPF(cmdEnableStats, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err != nil {
		return nil, fmt.Errorf("ksrtp: enable BPF statistics: %w", err)
	}
	return os.NewFile(uintptr(fd), "bpf-stats"), nil
}
