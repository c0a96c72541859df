package sim

import (
	"github.com/comandera/comandera/escpos"
)

// Star raster mode ("Raster Graphics Command Details" of the Star Line Mode
// specification; the whole command set of Star Graphic Mode printers).
// Each row b n1 n2 d… is drawn at the raster left margin and the paper
// advances one dot; rows are recorded as one image in the transcript.

// defaultMode is the EOT and FF mode raster mode starts with: feed to the
// cutter and cut as the cutter can ("models handling full cut: n = 9"), or
// feed to the tear bar without a cutter.
func (s *starInterp) defaultMode() int {
	switch p := s.h.profile; {
	case p.HasCut("full"):
		return 9
	case p.HasCut("partial"):
		return 13
	}
	return 3
}

// rasterInit is ESC * r R, and part of ESC * r A: page length, margins,
// EOT and FF modes to their defaults, and the image buffer cleared.
func (s *starInterp) rasterInit() {
	s.left, s.right, s.pageLen = 0, 0, 0
	s.eot, s.ff = s.defaultMode(), s.defaultMode()
	s.pending = s.pending[:0]
	s.dirty = false
}

// enterRaster is ESC * r A in line mode: what the line buffer holds is
// printed, raster mode is initialised and the print area is the whole
// head (line mode's margins are restored by ESC * r B).
func (s *starInterp) enterRaster() {
	if !s.r.LineEmpty() {
		s.r.PrintLine(s.r.LineSpacing)
	}
	s.rasterInit()
	s.lineMargin, s.lineArea = s.r.Area()
	s.r.SetMargin(0)
	s.r.SetAreaWidth(s.r.Width())
}

// quitRaster is ESC * r B in raster mode: with rows printed since the last
// FF or EOT mode, the EOT mode is executed first.
func (s *starInterp) quitRaster() {
	if len(s.pending) > 0 {
		s.row(nil)
	}
	if s.dirty {
		s.finish(s.eot)
	}
	if s.lineArea > 0 {
		s.r.SetMargin(s.lineMargin)
		s.r.SetAreaWidth(s.lineArea)
	}
}

// rasterControl executes a control byte in raster mode.
func (s *starInterp) rasterControl(c byte) {
	switch escpos.StarOp(c) {
	case escpos.StarOpDrawer1, escpos.StarOpDrawer1Now:
		s.drawer(1)
	case escpos.StarOpDrawer2, escpos.StarOpDrawer2Now:
		s.drawer(2)
	case escpos.StarOpENQ, escpos.StarOpEOT, escpos.StarOpETB, escpos.NUL:
	default:
		s.warn("raster mode: control byte %s ignored", escpos.StarOp(c))
	}
}

// rasterSetting stores an ESC * r setting.
func (s *starInterp) rasterSetting(c *escpos.StarCommand) {
	arg := c.Args
	if c.Op == escpos.StarOpRasterMargin {
		arg = arg[1:] // after the side, l or r
	}
	n, ok := escpos.StarNumber(arg)
	if !ok {
		s.warn("%s %q: the parameter is not a decimal number, ignored", c.Op, c.Args)
		return
	}
	switch c.Op {
	case escpos.StarOpRasterEOTMode, escpos.StarOpRasterFFMode:
		if !starRasterModes[n] {
			s.warn("%s %d: unknown mode, ignored", c.Op, n)
			return
		}
		if n == 0 {
			n = s.defaultMode()
		}
		if c.Op == escpos.StarOpRasterEOTMode {
			s.eot = n
		} else {
			s.ff = n
		}
	case escpos.StarOpRasterPage:
		s.pageLen = n
		if n != 0 {
			s.warn("ESC * r P %d: raster page lengths are not simulated: the sim prints continuously (ESC * r P 0)", n)
		}
	case escpos.StarOpRasterMargin:
		m := n * 8
		side := c.Args[0]
		left, right := s.left, s.right
		if side == 'l' {
			left = m
		} else {
			right = m
		}
		if left+right >= s.r.Width() {
			s.warn("%s %c %d: no print area would remain, ignored", c.Op, side, n)
			return
		}
		s.left, s.right = left, right
	case escpos.StarOpRasterColor:
		if n != 0 {
			s.warn("ESC * r K %d: colour printing is not simulated (printed in black)", n)
		}
	default:
		// ESC * r Q (quality), ESC * r T (top margin): no effect here.
	}
}

// rasterCommand executes a command decoded in raster mode.
func (s *starInterp) rasterCommand(c *escpos.StarCommand) {
	switch c.Op {
	case escpos.StarOpRasterRow:
		s.row(c.Data)
	case escpos.StarOpRasterDots:
		s.or(c.Data)
		s.dirty = true
	case escpos.StarOpRasterEnter:
		// Already in raster mode: ignored.
	case escpos.StarOpRasterQuit:
		s.quitRaster()
	case escpos.StarOpRasterInit:
		s.rasterInit()
	case escpos.StarOpRasterClear:
		s.pending = s.pending[:0]
	case escpos.StarOpRasterEOTMode, escpos.StarOpRasterFFMode, escpos.StarOpRasterPage, escpos.StarOpRasterQuality,
		escpos.StarOpRasterMargin, escpos.StarOpRasterTop, escpos.StarOpRasterColor:
		s.rasterSetting(c)
	case escpos.StarOpRasterFeed:
		n, ok := escpos.StarNumber(c.Args)
		if !ok {
			s.warn("ESC * r Y %q: the parameter is not a decimal number, ignored", c.Args)
			return
		}
		if len(s.pending) > 0 {
			s.row(nil)
			n--
		}
		s.r.PrintFeed(n)
	case escpos.StarOpRasterFF:
		s.finish(s.ff)
	case escpos.StarOpRasterEOT:
		s.finish(s.eot)
	case escpos.StarOpRasterDrawer:
		n, ok := escpos.StarNumber(c.Args)
		if !ok || n > 3 {
			s.warn("ESC * r D %q: out of range (0 to 3), ignored", c.Args)
			return
		}
		if n&1 != 0 {
			s.drawer(1)
		}
		if n&2 != 0 {
			s.drawer(2)
		}
	case escpos.StarOpRasterBuzzer:
		n, ok := escpos.StarNumber(c.Args[min(1, len(c.Args)):])
		if len(c.Args) < 2 || (c.Args[0] != '1' && c.Args[0] != '2') || !ok || n < 1 || n > 20 {
			s.warn("ESC * r V %q: out of range, ignored", c.Args)
			return
		}
		s.beep(n)
	case escpos.StarOpRasterDiscard:
		// The bytes were read and dropped with the command.
	default:
		s.warn("%s is not a raster mode command: ignored in raster mode (send ESC * r B first)", c.Op)
	}
}

// or merges raster data into the pending row, at the left margin.
func (s *starInterp) or(d []byte) {
	w := s.r.Width()
	stride := (w + 7) / 8
	if len(s.pending) == 0 {
		if cap(s.rowBuf) < stride {
			s.rowBuf = make([]byte, stride)
		}
		s.pending = s.rowBuf[:stride]
		clear(s.pending)
	}
	limit := w - s.right // dots beyond the right margin are discarded
	for i, b := range d {
		if b == 0 {
			continue
		}
		for bit := range 8 {
			x := s.left + i*8 + bit
			if x >= limit {
				return
			}
			if b&(0x80>>bit) != 0 {
				s.pending[x/8] |= 0x80 >> (x % 8)
			}
		}
	}
}

// row prints one dot row: the pending data merged with d, then feeds one
// dot.
func (s *starInterp) row(d []byte) {
	s.dirty = true
	w := s.r.Width()
	var bits []byte
	if len(s.pending) > 0 || s.left%8 != 0 || s.right > 0 {
		s.or(d)
		bits = s.pending
	} else {
		// The common case: data from the left edge, no margins.
		bits = d[:min(len(d), (w+7)/8)]
	}
	g := s.r.Block(w, 1, "[IMAGE]")
	if len(bits) > 0 {
		x := 0
		if len(s.pending) == 0 {
			x = s.left
		}
		g.Bits(x, 0, bits, len(bits), min(len(bits)*8, w-x), 1, 1, 1)
	}
	s.pending = s.pending[:0]
}

// finish executes an FF or EOT mode: the form feed (nothing on continuous
// paper), the feed to the cutter or the tear bar, and the cut.
func (s *starInterp) finish(mode int) {
	if len(s.pending) > 0 {
		s.row(nil)
	}
	s.dirty = false
	switch mode {
	case 2, 3, 9, 13, 37:
		s.r.PrintFeed(s.mmDots(cutterMM))
	}
	switch mode {
	case 8, 9, 36, 37:
		s.doCut("full")
	case 12, 13:
		s.doCut("partial")
	}
}
