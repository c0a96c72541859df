package main

import (
	"fmt"
	"log/slog"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
)

// epsonPages is Epson's ESC t numbering for the code pages Comandera knows
// (ESC/POS Application Programming Guide, "ESC t: Select character code
// table"): what a backend written for an Epson printer sends.
var epsonPages = map[byte]string{
	0: "PC437", 2: "PC850", 3: "PC860", 4: "PC863", 5: "PC865",
	15: "ISO8859-7", 16: "WPC1252", 17: "PC866", 18: "PC852", 19: "PC858",
	34: "PC855", 36: "PC862", 39: "ISO8859-2", 40: "ISO8859-15",
	45: "WPC1250", 46: "WPC1251", 47: "WPC1253", 48: "WPC1254",
	49: "WPC1255", 50: "WPC1256", 51: "WPC1257", 52: "WPC1258",
}

// fsDot is FS . (cancel Kanji character mode).
var fsDot = []byte{escpos.FS, '.'}

// transform rewrites an ESC/POS stream for a clone printer of profile p:
//
//   - FS . (cancel Kanji mode) after every ESC @ and before the first text,
//     because clone firmware starts in Kanji mode (and ESC @ puts it back),
//     printing Latin-1 bytes as Chinese characters;
//   - ESC t n with Epson's number n for a code page becomes ESC t with the
//     clone's number for the same page, from the profile's code_pages. A
//     number that is already one of the clone's is kept, so bytes encoded for
//     the profile (escpos.Encode) pass unchanged and transform is idempotent;
//   - GS v 0 rasters taller than the profile's max_band_height are split into
//     bands that tall, since clones corrupt or drop tall rasters.
//
// The stream is walked command by command with escpos.All, so image data
// that happens to contain 1B 40 is never taken for ESC @. Commands it does
// not change are copied byte for byte.
func transform(data []byte, p *core.Profile, log *slog.Logger) []byte {
	out := make([]byte, 0, len(data)+len(data)/64+8)
	cancelled := false // FS . sent (or Kanji mode chosen by the job) since the last ESC @
	endsWithFSDot := func() bool {
		n := len(out)
		return n >= 2 && out[n-2] == escpos.FS && out[n-1] == '.'
	}
	band := max(1, p.MaxBandHeight)
	for c := range escpos.All(data) {
		switch {
		case c.Kind == escpos.KindText:
			if !cancelled {
				out = append(out, fsDot...)
				cancelled = true
			}
			out = append(out, c.Raw...)
		case c.Kind != escpos.KindCommand:
			out = append(out, c.Raw...)
		case c.Op == escpos.OpInit:
			out = append(out, c.Raw...)
			out = append(out, fsDot...)
			cancelled = true
		case c.Op == escpos.OpKanjiOff:
			if !endsWithFSDot() { // drop the job's own FS . right after ours
				out = append(out, c.Raw...)
			}
			cancelled = true
		case c.Op == escpos.OpKanjiOn:
			// The job asks for Kanji on purpose: respect it.
			out = append(out, c.Raw...)
			cancelled = true
		case c.Op == escpos.OpCodePage:
			out = append(out, escpos.ESC, 't', remap(c.Arg(0), p, log))
		case c.Op == escpos.OpRaster:
			out = splitRaster(out, c, band)
		default:
			out = append(out, c.Raw...)
		}
	}
	return out
}

// remap returns the clone's ESC t number for the page Epson numbers n.
func remap(n byte, p *core.Profile, log *slog.Logger) byte {
	if _, ok := p.CodePageByNumber(int(n)); ok {
		return n // already the clone's number for one of its pages
	}
	name, ok := epsonPages[n]
	if !ok {
		log.Debug("ESC t with a number Epson does not define; kept", "n", n, "profile", p.Name)
		return n
	}
	m, ok := p.CodePageNumber(name)
	if !ok {
		log.Debug("code page missing on this model; ESC t kept", "page", name, "n", n, "profile", p.Name)
		return n
	}
	return byte(m)
}

// splitRaster appends GS v 0 command c, split into bands of at most band
// dot rows, each with the same mode and width.
func splitRaster(out []byte, c escpos.Command, band int) []byte {
	stride := int(c.Arg(1)) | int(c.Arg(2))<<8
	h := int(c.Arg(3)) | int(c.Arg(4))<<8
	if h <= band || stride == 0 || len(c.Data) != stride*h {
		return append(out, c.Raw...)
	}
	for y := 0; y < h; y += band {
		bh := min(band, h-y)
		out = append(out, escpos.GS, 'v', '0', c.Arg(0), c.Arg(1), c.Arg(2), byte(bh), byte(bh>>8))
		out = append(out, c.Data[y*stride:(y+bh)*stride]...)
	}
	return out
}

// check refuses profiles transform does not apply to.
func check(p *core.Profile) error {
	if p.CommandSet != core.CommandSetESCPOS {
		return fmt.Errorf("clone: profile %q speaks %s, not ESC/POS", p.Name, p.CommandSet)
	}
	return nil
}
