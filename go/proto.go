package spawnd

import (
	"encoding/binary"
	"syscall"
)

// Wire constants of docs/protocol.md (version 1).
const (
	protoMagic   = 0x5053
	protoVersion = 1
	hdrSize      = 20
	maxFrame     = 65536
	maxPayload   = maxFrame - hdrSize
	maxRequest   = 16 << 20
	maxFDs       = 253
	flagMore     = 0x0001
	noIndex      = 0xffffffff

	tHello     = 0x01
	tSpawn     = 0x02
	tKill      = 0x03
	tPing      = 0x04
	tList      = 0x05
	tWatch     = 0x06
	tHelloOK   = 0x81
	tStarted   = 0x82
	tFailed    = 0x83
	tExited    = 0x84
	tOK        = 0x85
	tPong      = 0x86
	tError     = 0x87
	tListEntry = 0x88

	spawnSetsid    = 0x0001
	spawnDetach    = 0x0008
	spawnKillGroup = 0x0040
	spawnExecFD    = 0x0080 // STARTED before the exec, with the exec fd

	startedExecFD = 0x0001 // the exec fd is the last fd of STARTED

	recArgv    = 1
	recEnv     = 2
	recPath    = 3
	recCwd     = 4
	recCwdFD   = 5
	recFD      = 6
	recPgroup  = 10
	recUmask   = 11
	recRlimit  = 12
	recGrace   = 16
	recTimeout = 17

	killGroup = 0x1
	killByPid = 0x2
)

// frame is one datagram, decoded: header fields, payload and fds.
type frame struct {
	typ     uint16
	flags   uint16
	id      uint32
	payload []byte
	fds     []int
}

// closeFDs closes the fds that came with a frame nobody takes.
func (f *frame) closeFDs() {
	for _, fd := range f.fds {
		syscall.Close(fd)
	}
	f.fds = nil
}

// header encodes a frame header (section 2).
func header(typ, flags uint16, length, nfds int, id uint32) []byte {
	h := make([]byte, hdrSize, hdrSize+length)
	binary.LittleEndian.PutUint16(h[0:], protoMagic)
	binary.LittleEndian.PutUint16(h[2:], protoVersion)
	binary.LittleEndian.PutUint16(h[4:], typ)
	binary.LittleEndian.PutUint16(h[6:], flags)
	binary.LittleEndian.PutUint32(h[8:], uint32(length))
	binary.LittleEndian.PutUint16(h[12:], uint16(nfds))
	binary.LittleEndian.PutUint32(h[16:], id)
	return h
}

// decodeFrame checks a received datagram as section 2 says a receiver
// must, and splits it.  The daemon only ever sends types >= 0x80.
func decodeFrame(b []byte, fds []int) (frame, bool) {
	le := binary.LittleEndian
	if len(b) < hdrSize || le.Uint16(b[0:]) != protoMagic ||
		le.Uint16(b[2:]) != protoVersion || le.Uint16(b[14:]) != 0 ||
		int(le.Uint32(b[8:])) != len(b)-hdrSize ||
		int(le.Uint16(b[12:])) != len(fds) || le.Uint16(b[4:]) < 0x80 {
		return frame{}, false
	}
	return frame{typ: le.Uint16(b[4:]), flags: le.Uint16(b[6:]),
		id: le.Uint32(b[16:]), payload: b[hdrSize:], fds: fds}, true
}

// body builds a spawn body (section 5).
type body struct {
	b []byte
}

func (w *body) u16(v uint16) { w.b = binary.LittleEndian.AppendUint16(w.b, v) }
func (w *body) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *body) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }

// str appends a str: u32 n, n bytes, NUL.
func (w *body) str(s string) {
	w.u32(uint32(len(s)))
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
}

// rec starts a record; the returned func patches its length.
func (w *body) rec(tag uint16) func() {
	w.u16(tag)
	w.u16(0)
	at := len(w.b)
	w.u32(0)
	return func() {
		binary.LittleEndian.PutUint32(w.b[at:],
			uint32(len(w.b)-at-4))
	}
}

func (w *body) strv(tag uint16, v []string) {
	end := w.rec(tag)
	w.u32(uint32(len(v)))
	for _, s := range v {
		w.str(s)
	}
	end()
}

func (w *body) recStr(tag uint16, s string) {
	end := w.rec(tag)
	w.str(s)
	end()
}

func (w *body) recU32(tag uint16, vs ...uint32) {
	end := w.rec(tag)
	for _, v := range vs {
		w.u32(v)
	}
	end()
}

// u32s decodes a fixed reply payload of little-endian words.
func u32s(p []byte, n int) ([]uint32, bool) {
	if len(p) < 4*n {
		return nil, false
	}
	v := make([]uint32, n)
	for i := range v {
		v[i] = binary.LittleEndian.Uint32(p[4*i:])
	}
	return v, true
}

// pstr decodes a str at the end of a payload (ERROR, LIST_ENTRY).
func pstr(p []byte) (string, bool) {
	if len(p) < 5 {
		return "", false
	}
	n := int(binary.LittleEndian.Uint32(p))
	if n != len(p)-5 || p[4+n] != 0 {
		return "", false
	}
	return string(p[4 : 4+n]), true
}
