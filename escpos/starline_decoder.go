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

	s stream[StarCommand]
}

// dialect splits in the decoder's current mode.
func (d *StarDecoder) dialect() dialect[StarCommand] {
	return dialect[StarCommand]{
		split: func(b []byte) splitResult[StarCommand] { return starSplit(b, d.Raster) },
		cut: func(c StarCommand, data, raw []byte, skipped int64) StarCommand {
			c.Data, c.Raw, c.Skipped = data, raw, skipped
			return c
		},
		invalid: func(raw []byte) StarCommand { return StarCommand{Kind: KindInvalid, Op: StarOp(raw[0]), Raw: raw} },
	}
}

// Pending returns how many bytes of an incomplete command the decoder holds,
// plus the bytes of an oversized command still to be discarded.
func (d *StarDecoder) Pending() int64 { return d.s.pending() }

// Feed decodes p, continuing any command left incomplete by earlier calls,
// and calls yield for each complete command in order. The StarCommand's
// slices point into p or into the decoder's buffer: they are valid only
// until yield returns.
func (d *StarDecoder) Feed(p []byte, yield func(StarCommand)) {
	d.s.feed(p, maxCommand(d.MaxCommand, 300), d.dialect(), func(c StarCommand) {
		yield(c)
		d.Raster = StarMode(&c, d.Raster)
	})
}

// End marks the end of the stream: a command left incomplete is yielded as
// KindTruncated, and the decoder is reset for a new stream in line mode.
func (d *StarDecoder) End(yield func(StarCommand)) {
	if len(d.s.buf) > 0 {
		cmd, _ := StarNext(d.s.buf, true, d.Raster)
		yield(cmd)
	}
	d.Reset()
}

// Reset discards any incomplete command and returns to line mode.
func (d *StarDecoder) Reset() {
	d.s.reset()
	d.Raster = false
}
