package escpos

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"

	"github.com/comandera/comandera/core"
)

// Replacement is the byte printed for a character no code page of the profile
// can hold: a visible '?', never a silent drop.
const Replacement = '?'

// fallbacks are typographic characters that few code pages hold, with the
// plain character a reader expects in their place.
var fallbacks = map[rune]rune{
	'‘': '\'', '’': '\'', '‚': ',', '“': '"', '”': '"', '„': '"',
	'–': '-', '—': '-', '‐': '-', '−': '-', '•': '*', '′': '\'', '″': '"',
	'\u00a0': ' ', '\u2007': ' ', '\u2009': ' ', '\u202f': ' ',
}

// A Run is text encodable in one code page.
type Run struct {
	CodePage string // name, as in core.CodePage
	Number   int    // the profile's number for it (ESC t n / ESC GS t n)
	Text     []byte // bytes in that code page
}

type page struct {
	name   string
	number int
	cm     *charmap.Charmap
}

// A Transcoder turns UTF-8 text into the bytes of the code pages a profile
// has, switching code page mid-line when a character needs it. It remembers
// the page in force between calls, so a document only switches when needed.
// The zero value is not usable; call NewTranscoder.
type Transcoder struct {
	pages   []page
	current int // index into pages
}

// NewTranscoder returns a Transcoder for p's code pages, with p's default
// code page in force (the state after ESC @).
func NewTranscoder(p *core.Profile) *Transcoder {
	t := &Transcoder{}
	for _, name := range p.CodePageOrder() {
		cm, ok := core.CodePage(name)
		if !ok {
			continue // Profile.Validate rejects unknown pages; be safe anyway
		}
		t.pages = append(t.pages, page{name: name, number: p.CodePages[name], cm: cm})
		if name == p.DefaultCodePage {
			t.current = len(t.pages) - 1
		}
	}
	return t
}

// Current returns the code page in force and its number.
func (t *Transcoder) Current() (name string, number int) {
	if len(t.pages) == 0 {
		return "", 0
	}
	pg := t.pages[t.current]
	return pg.name, pg.number
}

// Transcode splits s into runs, each in one code page, and returns how many
// characters were replaced by '?' because no page holds them. s is normalised
// to NFC first (so "e"+U+0301 prints as "é"). Control characters, including
// ESC, GS and newlines, are replaced too: text can never smuggle commands in.
// The first run's code page may differ from the page in force before the
// call; the caller selects it.
func (t *Transcoder) Transcode(s string) (runs []Run, replaced int) {
	if len(t.pages) == 0 {
		return nil, utf8.RuneCountInString(s)
	}
	s = norm.NFC.String(s)
	emit := func(idx int, b byte) {
		if len(runs) == 0 || runs[len(runs)-1].Number != t.pages[idx].number || runs[len(runs)-1].CodePage != t.pages[idx].name {
			runs = append(runs, Run{CodePage: t.pages[idx].name, Number: t.pages[idx].number})
		}
		runs[len(runs)-1].Text = append(runs[len(runs)-1].Text, b)
		t.current = idx
	}
	for _, r := range s {
		if r == '\t' {
			r = ' '
		}
		if fb, ok := fallbacks[r]; ok {
			r = fb
		}
		if r == utf8.RuneError || unicode.IsControl(r) {
			emit(t.current, Replacement)
			replaced++
			continue
		}
		if b, ok := t.pages[t.current].cm.EncodeRune(r); ok {
			emit(t.current, b)
			continue
		}
		found := false
		for i, pg := range t.pages {
			if b, ok := pg.cm.EncodeRune(r); ok {
				emit(i, b)
				found = true
				break
			}
		}
		if !found {
			emit(t.current, Replacement)
			replaced++
		}
	}
	return runs, replaced
}
