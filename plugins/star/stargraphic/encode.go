// Package stargraphic encodes documents for Star printers that print only
// raster graphics (command set "stargraphic": the TSP100 futurePRNT family,
// TSP143). They have no fonts of their own, so each stretch of the document
// between cuts is encoded with escpos.Encode for an equivalent ESC/POS
// profile, rendered to an image by the simulator (drivers/sim), and sent as
// Star raster rows. Text, code pages, QR codes and barcodes therefore look
// exactly as the sim shows them.
//
// Command references are to Star Micronics, "STAR Line Mode Command
// Specifications", Raster Mode command details, which the TSP100 series
// implements ("Star Graphic Mode").
package stargraphic

import (
	"fmt"
	"image"
	"strings"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim"
	"github.com/comandera/comandera/escpos"
)

const (
	esc = 0x1b
	ff  = 0x0c
	eot = 0x04
	nul = 0x00
	bel = 0x07 // external device 1 drive (drawer 1)
	sub = 0x1a // external device 2 drive (drawer 2)
)

// Raster EOT modes (ESC * r E n NUL, "Set raster EOT mode"): what
// ESC FF EOT does at the end of a ticket.
const (
	eotFeed        = "1"  // form feed only (continuous mode: nothing)
	eotTearBar     = "3"  // feed to the tear bar
	eotFullCut     = "8"  // full cut at the current position
	eotFeedFull    = "9"  // cut feed, then full cut
	eotPartialCut  = "12" // partial cut at the current position
	eotFeedPartial = "13" // cut feed, then partial cut
)

// Encode returns the Star raster bytes that print doc on a printer of
// profile p (command set "stargraphic"):
//
//	ESC * r A            Enter raster mode
//	ESC * r P 0 NUL      Set raster page length: continuous print
//	b n1 n2 d1…dk        Send raster data (auto line feed), one per dot row
//	ESC * r E n NUL      Set raster EOT mode: the cut a cut block asks for
//	ESC FF EOT           Execute EOT mode: feed and cut
//	BEL, SUB             External device 1 or 2 drive: a drawer block
//	ESC * r V 1 n NUL    Execute external buzzer drive: a beep block
//	ESC * r B            Quit raster mode (after ESC * r E 1 NUL, so
//	                     leftover rows are not cut)
//
// Cuts follow escpos.Encode's rules: the kind asked for if the cutter makes
// it, else the kind it makes, else a feed to the tear bar; the profile's
// cut_feed is fed as blank rows before a cut at the current position. A
// drawer block on a profile without a drawer, and a beep on one without a
// buzzer, print nothing. Errors name the block: "document[6]: ean13: …".
func Encode(doc core.Document, p *core.Profile) ([]byte, error) {
	if p == nil {
		return nil, fmt.Errorf("stargraphic: no printer profile")
	}
	if p.CommandSet != core.CommandSetStarGraphic {
		return nil, fmt.Errorf("stargraphic: profile %q speaks %s, not Star Graphic Mode", p.Name, p.CommandSet)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("stargraphic: profile %q: %w", p.Name, err)
	}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	e := &encoder{p: p, proxy: proxy(p)}
	e.out = append(e.out, esc, '*', 'r', 'A')
	e.out = param(e.out, 'P', "0")
	start := 0 // first block of the stretch not yet printed
	for i := range doc {
		b := &doc[i]
		switch b.Kind {
		case core.KindCut, core.KindDrawer, core.KindBeep:
		default:
			continue
		}
		if err := e.render(doc[start:i], start); err != nil {
			return nil, err
		}
		start = i + 1
		switch b.Kind {
		case core.KindCut:
			e.cut(b.Cut)
		case core.KindDrawer:
			if p.Drawer {
				if b.N == 2 {
					e.out = append(e.out, sub)
				} else {
					e.out = append(e.out, bel)
				}
			}
		case core.KindBeep:
			if p.Beep {
				e.out = param(e.out, 'V', "1"+fmt.Sprint(b.N)) // m = "1": buzzer 1
			}
		}
		if len(e.out) > escpos.MaxOutput {
			return nil, fmt.Errorf("document[%d]: the document encodes to more than %d bytes: split it into several jobs", i, escpos.MaxOutput)
		}
	}
	if err := e.render(doc[start:], start); err != nil {
		return nil, err
	}
	e.out = param(e.out, 'E', eotFeed)
	e.out = append(e.out, esc, '*', 'r', 'B')
	if len(e.out) > escpos.MaxOutput {
		return nil, fmt.Errorf("the document encodes to more than %d bytes: split it into several jobs", escpos.MaxOutput)
	}
	return e.out, nil
}

// proxy returns p as the ESC/POS profile escpos.Encode draws for and the
// sim renders: same paper, fonts and code page numbers, every image sent
// with GS v 0. The numbers are Star's, but encoder and sim read them from
// the same table, so they agree.
func proxy(p *core.Profile) *core.Profile {
	q := p.Clone()
	q.CommandSet = core.CommandSetESCPOS
	q.Raster = core.RasterGSv0
	q.Quirks = ""
	return q
}

type encoder struct {
	p, proxy *core.Profile
	out      []byte
}

// param appends ESC * r c n NUL, n in decimal ASCII as the raster
// commands take it.
func param(out []byte, c byte, n string) []byte {
	out = append(out, esc, '*', 'r', c)
	out = append(out, n...)
	return append(out, nul)
}

// render prints a stretch of blocks (doc[first:] of the whole document)
// that has no cut, drawer or beep: it encodes them for the proxy profile,
// renders the bytes with the sim and sends the image.
func (e *encoder) render(blocks core.Document, first int) error {
	if !printable(blocks) {
		return nil
	}
	data, err := escpos.Encode(blocks, e.proxy)
	if err != nil {
		return blockError(blocks, first, e.proxy, err)
	}
	res, err := sim.Render(data, e.proxy)
	if err != nil {
		return fmt.Errorf("stargraphic: rendering: %w", err)
	}
	for _, t := range res.Tickets {
		if t.Clipped {
			return fmt.Errorf("document[%d:%d]: longer than the %d mm the renderer draws in one roll: split the job", first, first+len(blocks), sim.RollMaxMM)
		}
		if len(t.Warnings) > 0 {
			return fmt.Errorf("document[%d:%d]: the renderer warned: %s", first, first+len(blocks), t.Warnings[0])
		}
	}
	if res.Image != nil {
		e.image(res.Image)
	}
	return nil
}

// printable reports whether blocks put anything on paper.
func printable(blocks core.Document) bool {
	for i := range blocks {
		switch blocks[i].Kind {
		case core.KindCut, core.KindDrawer, core.KindBeep:
		default:
			return true
		}
	}
	return false
}

// blockError finds the block that made escpos.Encode fail, so the error
// names its index in the whole document.
func blockError(blocks core.Document, first int, p *core.Profile, err error) error {
	for i := range blocks {
		if _, e := escpos.Encode(blocks[i:i+1], p); e != nil {
			// escpos says "document[0]: …" for a one-block document.
			if rest, ok := strings.CutPrefix(e.Error(), "document[0]: "); ok {
				return fmt.Errorf("document[%d]: %s", first+i, rest)
			}
			return fmt.Errorf("document[%d]: %w", first+i, e)
		}
	}
	return err
}

// image sends img, one raster row per dot row. The rows are as wide as the
// paper; trailing white bytes are not sent.
func (e *encoder) image(img *image.Paletted) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	row := make([]byte, (w+7)/8)
	for y := 0; y < h; y++ {
		clear(row)
		pix := img.Pix[y*img.Stride : y*img.Stride+w]
		for x, c := range pix {
			if c != 0 { // palette index 1 is black
				row[x/8] |= 0x80 >> (x % 8)
			}
		}
		e.out = appendRow(e.out, row)
	}
}

// blank sends n white rows.
func (e *encoder) blank(n int) {
	for range n {
		e.out = append(e.out, 'b', 1, 0, 0)
	}
}

// appendRow appends "b n1 n2 d…" for one dot row (k ≥ 1).
func appendRow(out, row []byte) []byte {
	n := len(row)
	for n > 1 && row[n-1] == 0 {
		n--
	}
	out = append(out, 'b', byte(n), byte(n>>8))
	return append(out, row[:n]...)
}

// cut sets the EOT mode for the cut and executes it with ESC FF EOT.
func (e *encoder) cut(kind string) {
	if kind == "" {
		kind = "full"
	}
	if !e.p.HasCut(kind) {
		switch {
		case e.p.HasCut("partial"):
			kind = "partial"
		case e.p.HasCut("full"):
			kind = "full"
		default:
			kind = ""
		}
	}
	var mode string
	switch {
	case kind == "" && e.p.CutFeed > 0:
		e.blank(e.p.CutFeed)
		mode = eotFeed
	case kind == "":
		mode = eotTearBar
	case e.p.CutFeed > 0:
		e.blank(e.p.CutFeed)
		mode = map[string]string{"full": eotFullCut, "partial": eotPartialCut}[kind]
	default:
		mode = map[string]string{"full": eotFeedFull, "partial": eotFeedPartial}[kind]
	}
	e.out = param(e.out, 'E', mode)
	e.out = append(e.out, esc, ff, eot)
}
