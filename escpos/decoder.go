package escpos

// A Decoder decodes an ESC/POS stream that arrives in chunks, such as the
// reads of a TCP connection: a command split across chunks is held until it
// is complete. It holds at most MaxCommand bytes. A longer command (a GS v 0
// header that declares 65535×65535 dots, a GS 8 L declaring 4 GB) is
// delivered once MaxCommand bytes of it have arrived, with Data cut there and
// Skipped saying how many declared bytes follow; those are then discarded as
// they arrive, without being buffered.
//
// The zero value is ready to use.
type Decoder struct {
	// MaxCommand bounds the bytes held for one command; 0 means
	// DefaultMaxCommand, and values under 64 mean 64 (room for the longest
	// header).
	MaxCommand int

	s stream[Command]
}

var escposDialect = dialect[Command]{
	split: decSplit,
	cut: func(c Command, data, raw []byte, skipped int64) Command {
		c.Data, c.Raw, c.Skipped = data, raw, skipped
		return c
	},
	invalid: func(raw []byte) Command { return Command{Kind: KindInvalid, Op: Op(raw[0]), Raw: raw} },
}

// Pending returns how many bytes of an incomplete command the decoder holds,
// plus the bytes of an oversized command still to be discarded.
func (d *Decoder) Pending() int64 { return d.s.pending() }

// Feed decodes p, continuing any command left incomplete by earlier calls,
// and calls yield for each complete command in order. The Command's slices
// point into p or into the decoder's buffer: they are valid only until yield
// returns.
func (d *Decoder) Feed(p []byte, yield func(Command)) {
	d.s.feed(p, maxCommand(d.MaxCommand, 64), escposDialect, yield)
}

// End marks the end of the stream: a command left incomplete is yielded as
// KindTruncated, and the decoder is reset for a new stream.
func (d *Decoder) End(yield func(Command)) {
	if len(d.s.buf) > 0 {
		cmd, _ := Next(d.s.buf, true)
		yield(cmd)
	}
	d.Reset()
}

// Reset discards any incomplete command.
func (d *Decoder) Reset() { d.s.reset() }
