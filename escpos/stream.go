package escpos

// DefaultMaxCommand is the most a Decoder or StarDecoder buffers for one
// command when its MaxCommand is zero: 4 MiB, far more than any real command
// (a full-width 80 mm raster band of 2303 rows is 166 KB).
const DefaultMaxCommand = 4 << 20

// splitResult is what a command language's split function says about the
// start of b. When the command is complete, n > 0. When it is not, n == 0
// and need is the smallest total length at which decoding can progress (more
// than len(b)); hdr > 0 tells where Data would start and cmd has Op and Args
// set (the header is complete).
type splitResult[C any] struct {
	cmd  C
	n    int
	need int64
	hdr  int
}

// A dialect is what stream needs to know of one command language.
type dialect[C any] struct {
	// split decodes the command at the start of b.
	split func(b []byte) splitResult[C]
	// cut shortens an oversized command to the data and raw bytes that
	// arrived, recording how many declared bytes are skipped.
	cut func(c C, data, raw []byte, skipped int64) C
	// invalid is a one-byte command that could not be decoded.
	invalid func(raw []byte) C
}

// stream is the chunked decoding Decoder (ESC/POS) and StarDecoder (Star
// Line Mode) share: a command split across chunks is held until it is
// complete, never more than limit bytes of it; a longer one is delivered
// cut at limit with the rest of its declared length discarded as it arrives,
// without being buffered.
type stream[C any] struct {
	buf  []byte // an incomplete command, never more than limit bytes
	skip int64  // bytes still to discard after an oversized command
}

// pending returns how many bytes of an incomplete command are held, plus
// the bytes of an oversized command still to be discarded.
func (s *stream[C]) pending() int64 { return int64(len(s.buf)) + s.skip }

// feed decodes p, continuing the command left incomplete by earlier calls,
// and calls yield for each complete command in order. The commands' slices
// point into p or into s.buf: they are valid only until yield returns.
func (s *stream[C]) feed(p []byte, limit int, l dialect[C], yield func(C)) {
	for len(p) > 0 {
		if s.skip > 0 {
			n := min(int64(len(p)), s.skip)
			s.skip -= n
			p = p[n:]
			continue
		}
		if len(s.buf) == 0 {
			n := s.decode(p, limit, l, yield)
			p = p[n:]
			if s.skip > 0 || len(p) == 0 {
				continue
			}
			// p holds the start of a command shorter than limit.
			s.buf = append(s.buf[:0], p...)
			return
		}
		// Complete the held command: take exactly the bytes it needs, so
		// the buffer never holds the start of the next one.
		need := min(l.split(s.buf).need, int64(limit))
		take := min(need-int64(len(s.buf)), int64(len(p)))
		if int64(cap(s.buf)-len(s.buf)) < take {
			// Grow by doubling, never past the command's need: cumulative
			// allocation stays under 2×limit.
			c := min(max(int64(2*cap(s.buf)), int64(len(s.buf))+take), need)
			nb := make([]byte, len(s.buf), c)
			copy(nb, s.buf)
			s.buf = nb
		}
		s.buf = append(s.buf, p[:take]...)
		p = p[take:]
		if n := s.decode(s.buf, limit, l, yield); n == len(s.buf) {
			s.buf = s.buf[:0]
		} else if n > 0 {
			// Only after an invalid oversized header: keep the rest.
			s.buf = append(s.buf[:0], s.buf[n:]...)
		}
	}
	if cap(s.buf) > 64<<10 && len(s.buf) == 0 {
		s.buf = nil // do not keep a large buffer after a large command
	}
}

// decode yields the complete commands at the start of b and returns how
// many bytes they took. An oversized command (need > limit) whose first
// limit bytes are in b is yielded cut short, and s.skip is set to its remaining
// length.
func (s *stream[C]) decode(b []byte, limit int, l dialect[C], yield func(C)) int {
	off := 0
	for off < len(b) {
		r := l.split(b[off:])
		if r.n > 0 {
			yield(r.cmd)
			off += r.n
			continue
		}
		if r.need > int64(limit) && len(b)-off >= limit && r.hdr > 0 && r.hdr <= limit {
			s.skip = r.need - int64(limit)
			yield(l.cut(r.cmd, b[off+r.hdr:off+limit], b[off:off+limit], s.skip))
			return off + limit
		}
		if r.need > int64(limit) && len(b)-off >= limit {
			// An oversized command without a parsed header cannot happen
			// (headers are a few bytes), but never loop on it.
			yield(l.invalid(b[off : off+1]))
			off++
			continue
		}
		break
	}
	return off
}

// reset discards any incomplete command.
func (s *stream[C]) reset() {
	s.buf = s.buf[:0]
	if cap(s.buf) > 64<<10 {
		s.buf = nil
	}
	s.skip = 0
}

// maxCommand is the bound a MaxCommand setting gives: 0 means
// DefaultMaxCommand, and values under floor (room for the language's
// longest header) mean floor.
func maxCommand(setting, floor int) int {
	switch {
	case setting >= floor:
		return setting
	case setting > 0:
		return floor
	}
	return DefaultMaxCommand
}
