package sim

import (
	"bufio"
	"fmt"
	"image"
	"image/png"
	"io"
	"strings"
	"sync"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/drivers/sim/paper"
)

// RollMaxMM caps the paper Render draws for a whole roll: 8 m. A ticket
// printed by the device (one PNG per ticket) is capped at paper.DefaultMaxMM
// (4 m).
const RollMaxMM = 8000

// A Result is a whole roll rendered by Render.
type Result struct {
	// Image is the whole roll at the profile's resolution, cuts drawn as
	// dashed lines; nil when rendering was off.
	Image *image.Paletted
	// Tickets are the tickets in order, with their transcripts, cut kinds,
	// events and warnings (Ticket.Image is nil: the roll is in Image).
	Tickets []*Ticket
	// Profile is the profile the bytes were interpreted for.
	Profile *core.Profile
}

// Warnings returns every ticket's warnings; with several tickets each is
// prefixed with "ticket N: ".
func (r *Result) Warnings() []string {
	var out []string
	for i, t := range r.Tickets {
		for _, w := range t.Warnings {
			if len(r.Tickets) > 1 {
				w = fmt.Sprintf("ticket %d: %s", i+1, w)
			}
			out = append(out, w)
		}
	}
	return out
}

// Text returns the transcript of the roll: each ticket's lines, tickets
// separated by a line such as "--- partial cut ---".
func (r *Result) Text() string {
	var sb strings.Builder
	for _, t := range r.Tickets {
		sb.WriteString(t.Text())
		if t.Cut != "" {
			fmt.Fprintf(&sb, "--- %s cut ---\n", t.Cut)
		}
	}
	return sb.String()
}

// Options tune Render.
type Options struct {
	// NoImage skips drawing: only transcripts, warnings and events.
	NoImage bool
	// MaxLength caps the roll in dots; 0 means RollMaxMM.
	MaxLength int
}

// Render interprets data as printer bytes for profile p (nil means
// core.DefaultProfile) and returns the whole roll. Profiles of command sets
// the sim cannot interpret (none of the built-in ones) give an error wrapping
// ErrUnsupported. Hostile input is bounded: the roll is at most RollMaxMM
// long and no declared length makes it allocate.
func Render(data []byte, p *core.Profile) (*Result, error) {
	return RenderOptions(data, p, Options{})
}

// RenderOptions is Render with options.
func RenderOptions(data []byte, p *core.Profile, o Options) (*Result, error) {
	p, err := checkProfile(p)
	if err != nil {
		return nil, err
	}
	res := &Result{Profile: p}
	max := o.MaxLength
	if max <= 0 {
		max = RollMaxMM * p.DPI * 10 / 254
	}
	roll := paper.New(paper.Config{
		Width: p.DotsPerLine, DPI: p.DPI, MaxLength: max, Render: !o.NoImage, Roll: true,
		OnTicket: func(t *Ticket) { res.Tickets = append(res.Tickets, t) },
	})
	in, err := newInterpreter(&host{roll: roll, profile: p, status: func() core.Status {
		return core.Status{Known: true, Online: true}
	}})
	if err != nil {
		return nil, err
	}
	in.Write(data)
	in.End()
	roll.Finish()
	res.Image = roll.RollImage()
	return res, nil
}

var (
	pngEnc  = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngPool{}}
	bufPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
)

type pngPool struct{ p sync.Pool }

func (p *pngPool) Get() *png.EncoderBuffer {
	b, _ := p.p.Get().(*png.EncoderBuffer)
	return b
}
func (p *pngPool) Put(b *png.EncoderBuffer) { p.p.Put(b) }

// EncodePNG writes img as a 1-bit paletted PNG at png.BestSpeed.
func EncodePNG(w io.Writer, img image.Image) error {
	bw := bufPool.Get().(*bufio.Writer)
	bw.Reset(w)
	defer func() { bw.Reset(nil); bufPool.Put(bw) }()
	if err := pngEnc.Encode(bw, img); err != nil {
		return err
	}
	return bw.Flush()
}
