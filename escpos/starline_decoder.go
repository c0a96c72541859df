package escpos

// A StarDecoder decodes a Star Line Mode stream that arrives in chunks, as
// Decoder does for ESC/POS: a command split across chunks is held until it
// is complete, at most MaxCommand bytes of it; a longer one (a raster row or
// an ESC GS y D declaring more than that) is delivered cut there with
// Skipped saying how many declared bytes follow, and those are discarded as
// they arrive. It follows the mode: commands after ESC * r A are decoded as
// raster commands until ESC * r B.
//
// The zero value is ready to use and starts in line mode.
type StarDecoder struct {
	// MaxCommand bounds the bytes held for one command; 0 means
	// DefaultMaxCommand, and values under 300 mean 300 (room for the
	// longest header: an ESC * r parameter of 255 digits).
	MaxCommand int
	// Raster is the mode the next command is decoded in. While a yielded
	// command runs it is still the mode that command was decoded in; the
	// decoder updates it when yield returns. Set it to start a stream in
	// raster mode.
	Raster bool

	buf  []byte
	skip int64
}

func (d *StarDecoder) max() int {
	if d.MaxCommand >= 300 {
		return d.MaxCommand
	}
	if d.MaxCommand > 0 {
		return 300
	}
	return DefaultMaxCommand
}

// Pending returns how many bytes of an incomplete command the decoder holds,
// plus the bytes of an oversized command still to be discarded.
func (d *StarDecoder) Pending() int64 { return int64(len(d.buf)) + d.skip }

// Feed decodes p, continuing any command left incomplete by earlier calls,
// and calls yield for each complete command in order. The StarCommand's
// slices point into p or into the decoder's buffer: they are valid only
// until yield returns.
func (d *StarDecoder) Feed(p []byte, yield func(StarCommand)) {
	max := d.max()
	for len(p) > 0 {
		if d.skip > 0 {
			n := min(int64(len(p)), d.skip)
			d.skip -= n
			p = p[n:]
			continue
		}
		if len(d.buf) == 0 {
			n := d.decode(p, yield, max)
			p = p[n:]
			if d.skip > 0 || len(p) == 0 {
				continue
			}
			d.buf = append(d.buf[:0], p...)
			return
		}
		// Complete the held command with exactly the bytes it needs.
		r := starSplit(d.buf, d.Raster)
		need := min(r.need, int64(max))
		take := min(need-int64(len(d.buf)), int64(len(p)))
		if int64(cap(d.buf)-len(d.buf)) < take {
			// Grow by doubling, never past the command's need.
			c := max64(int64(2*cap(d.buf)), int64(len(d.buf))+take)
			c = min(c, need)
			nb := make([]byte, len(d.buf), c)
			copy(nb, d.buf)
			d.buf = nb
		}
		d.buf = append(d.buf, p[:take]...)
		p = p[take:]
		if n := d.decode(d.buf, yield, max); n == len(d.buf) {
			d.buf = d.buf[:0]
		} else if n > 0 {
			d.buf = append(d.buf[:0], d.buf[n:]...)
		}
	}
	if cap(d.buf) > 64<<10 && len(d.buf) == 0 {
		d.buf = nil
	}
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// decode yields the complete commands at the start of b and returns how many
// bytes they took; see Decoder.decode.
func (d *StarDecoder) decode(b []byte, yield func(StarCommand), max int) int {
	off := 0
	for off < len(b) {
		r := starSplit(b[off:], d.Raster)
		if r.n > 0 {
			d.emit(r.cmd, yield)
			off += r.n
			continue
		}
		if r.need > int64(max) && len(b)-off >= max && r.hdr > 0 && r.hdr <= max {
			c := r.cmd
			c.Data = b[off+r.hdr : off+max]
			c.Raw = b[off : off+max]
			c.Skipped = r.need - int64(max)
			d.skip = c.Skipped
			d.emit(c, yield)
			off += max
			return off
		}
		if r.need > int64(max) && len(b)-off >= max {
			// Cannot happen (headers are short), but never loop on it.
			d.emit(StarCommand{Kind: KindInvalid, Op: StarOp(b[off]), Raw: b[off : off+1]}, yield)
			off++
			continue
		}
		break
	}
	return off
}

func (d *StarDecoder) emit(c StarCommand, yield func(StarCommand)) {
	yield(c)
	d.Raster = StarMode(&c, d.Raster)
}

// End marks the end of the stream: a command left incomplete is yielded as
// KindTruncated, and the decoder is reset for a new stream in line mode.
func (d *StarDecoder) End(yield func(StarCommand)) {
	if len(d.buf) > 0 {
		cmd, _ := StarNext(d.buf, true, d.Raster)
		yield(cmd)
	}
	d.Reset()
}

// Reset discards any incomplete command and returns to line mode.
func (d *StarDecoder) Reset() {
	d.buf = d.buf[:0]
	if cap(d.buf) > 64<<10 {
		d.buf = nil
	}
	d.skip = 0
	d.Raster = false
}
