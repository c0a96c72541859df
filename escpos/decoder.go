package escpos

// DefaultMaxCommand is the most a Decoder buffers for one command when its
// MaxCommand is zero: 4 MiB, far more than any real command (a full-width
// 80 mm raster band of 2303 rows is 166 KB).
const DefaultMaxCommand = 4 << 20

// A Decoder decodes a stream that arrives in chunks, such as the reads of a
// TCP connection: a command split across chunks is held until it is complete.
// It holds at most MaxCommand bytes. A longer command (a GS v 0 header that
// declares 65535×65535 dots, a GS 8 L declaring 4 GB) is delivered once
// MaxCommand bytes of it have arrived, with Data cut there and Skipped saying
// how many declared bytes follow; those are then discarded as they arrive,
// without being buffered.
//
// The zero value is ready to use.
type Decoder struct {
	// MaxCommand bounds the bytes held for one command; 0 means
	// DefaultMaxCommand, and values under 64 mean 64.
	MaxCommand int

	buf  []byte // an incomplete command, never more than MaxCommand bytes
	skip int64  // bytes still to discard after an oversized command
}

func (d *Decoder) max() int {
	if d.MaxCommand >= 64 {
		return d.MaxCommand
	}
	if d.MaxCommand > 0 {
		return 64 // room for the longest header
	}
	return DefaultMaxCommand
}

// Pending returns how many bytes of an incomplete command the decoder holds,
// plus the bytes of an oversized command still to be discarded.
func (d *Decoder) Pending() int64 { return int64(len(d.buf)) + d.skip }

// Feed decodes p, continuing any command left incomplete by earlier calls,
// and calls yield for each complete command in order. The Command's slices
// point into p or into the decoder's buffer: they are valid only until yield
// returns.
func (d *Decoder) Feed(p []byte, yield func(Command)) {
	max := d.max()
	for len(p) > 0 {
		if d.skip > 0 {
			n := int64(len(p))
			if n > d.skip {
				n = d.skip
			}
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
			// p holds the start of a command shorter than max.
			d.buf = append(d.buf[:0], p...)
			return
		}
		// Complete the held command: take exactly the bytes it needs, so
		// the buffer never holds the start of the next one.
		r := decSplit(d.buf)
		need := r.need
		if need > int64(max) {
			need = int64(max)
		}
		take := need - int64(len(d.buf))
		if take > int64(len(p)) {
			take = int64(len(p))
		}
		if int64(cap(d.buf)-len(d.buf)) < take {
			// Grow by doubling, never past the command's need: cumulative
			// allocation stays under 2×MaxCommand.
			c := int64(2 * cap(d.buf))
			if c < int64(len(d.buf))+take {
				c = int64(len(d.buf)) + take
			}
			if c > need {
				c = need
			}
			nb := make([]byte, len(d.buf), c)
			copy(nb, d.buf)
			d.buf = nb
		}
		d.buf = append(d.buf, p[:take]...)
		p = p[take:]
		if n := d.decode(d.buf, yield, max); n == len(d.buf) {
			d.buf = d.buf[:0]
		} else if n > 0 {
			// Only after an invalid oversized header: keep the rest.
			d.buf = append(d.buf[:0], d.buf[n:]...)
		}
	}
	if cap(d.buf) > 64<<10 && len(d.buf) == 0 {
		d.buf = nil // do not keep a large buffer after a large command
	}
}

// decode yields the complete commands at the start of b and returns how many
// bytes they took. An oversized command (need > max) whose first max bytes
// are in b is yielded cut short, and d.skip is set to its remaining length.
func (d *Decoder) decode(b []byte, yield func(Command), max int) int {
	off := 0
	for off < len(b) {
		r := decSplit(b[off:])
		if r.n > 0 {
			yield(r.cmd)
			off += r.n
			continue
		}
		if r.need > int64(max) && len(b)-off >= max && r.hdr > 0 && r.hdr <= max {
			c := r.cmd
			c.Data = b[off+r.hdr : off+max]
			c.Raw = b[off : off+max]
			c.Skipped = r.need - int64(max)
			d.skip = c.Skipped
			yield(c)
			off += max
			return off
		}
		if r.need > int64(max) && len(b)-off >= max {
			// An oversized command without a parsed header cannot happen
			// (headers are a few bytes), but never loop on it.
			yield(Command{Kind: KindInvalid, Op: Op(b[off]), Raw: b[off : off+1]})
			off++
			continue
		}
		break
	}
	return off
}

// End marks the end of the stream: a command left incomplete is yielded as
// KindTruncated, and the decoder is reset for a new stream.
func (d *Decoder) End(yield func(Command)) {
	if len(d.buf) > 0 {
		cmd, _ := Next(d.buf, true)
		yield(cmd)
	}
	d.Reset()
}

// Reset discards any incomplete command.
func (d *Decoder) Reset() {
	d.buf = d.buf[:0]
	if cap(d.buf) > 64<<10 {
		d.buf = nil
	}
	d.skip = 0
}
