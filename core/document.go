package core

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// A Document is a ticket described as a list of blocks. The backend sends it as
// JSON; an encoder turns it into bytes for one printer profile, so the backend
// never writes ESC/POS and never cares which model is on the wall.
type Document []Block

// Kind names what a block is. In JSON it is the one key that names the block:
// {"text": "COCINA", "bold": true}.
type Kind string

// The block kinds.
const (
	KindText    Kind = "text"    // Text, styled
	KindLine    Kind = "line"    // a separator: Text is the character repeated across the paper ("-" by default)
	KindColumns Kind = "columns" // Columns[0] left-aligned, Columns[1] right-aligned on the same line
	KindQR      Kind = "qr"      // Text is the data; Size, Level
	KindBarcode Kind = "barcode" // Text is the data; Symbology, HRI, BarHeight, ModuleWidth
	KindImage   Kind = "image"   // Image is a PNG
	KindFeed    Kind = "feed"    // N lines
	KindCut     Kind = "cut"     // Cut is "full" or "partial"
	KindDrawer  Kind = "drawer"  // N is the pin: 1 or 2
	KindBeep    Kind = "beep"    // N beeps
)

// Kinds lists the block kinds in the order the documentation gives them.
var Kinds = []Kind{KindText, KindLine, KindColumns, KindQR, KindBarcode, KindImage, KindFeed, KindCut, KindDrawer, KindBeep}

// Limits on one document, so a request cannot make an encoder allocate without
// bound.
const (
	MaxBlocks      = 2000
	MaxTextLen     = 16 << 10 // bytes of UTF-8 in one text or column
	MaxQRLen       = 2953     // QR version 40, level L, bytes
	MaxBarcodeLen  = 255
	MaxFeed        = 255
	MaxBeeps       = 9
	MaxImageBytes  = 4 << 20
	MaxImageHeight = 8192 // dots, after scaling to the paper
)

// A Block is one element of a Document. Kind says which fields apply; the rest
// are zero. The zero value of every option is the printer's default.
type Block struct {
	Kind Kind

	Text    string   // text, line character, QR or barcode data
	Columns []string // columns: [left, right]
	Image   []byte   // image: PNG bytes
	N       int      // feed: lines; drawer: pin (1 or 2); beep: count
	Cut     string   // cut: "full" or "partial"

	// Text style (text, columns, line).
	Align     string // "left" (default), "center", "right"; also qr, barcode, image
	Bold      bool
	Underline bool
	Invert    bool // white on black
	Width     int  // character width multiplier 1–8 (0 means 1)
	Height    int  // character height multiplier 1–8 (0 means 1)
	Font      string

	// QR options.
	Size  int    // module size in dots 1–16 (0: 6)
	Level string // error correction "l", "m" (default), "q", "h"

	// Barcode options.
	Symbology   string // upca, upce, ean13, ean8, code39, itf, codabar, code93, code128
	HRI         bool   // print the human-readable digits below
	BarHeight   int    // dots 1–255 (0: 80)
	ModuleWidth int    // dots 2–6 (0: 3)
}

// blockJSON is the wire form of a block's options.
type blockJSON struct {
	Align       string `json:"align,omitempty"`
	Bold        bool   `json:"bold,omitempty"`
	Underline   bool   `json:"underline,omitempty"`
	Invert      bool   `json:"invert,omitempty"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	Font        string `json:"font,omitempty"`
	Size        int    `json:"size,omitempty"`
	Level       string `json:"level,omitempty"`
	Type        string `json:"type,omitempty"`
	HRI         bool   `json:"hri,omitempty"`
	BarHeight   int    `json:"bar_height,omitempty"`
	ModuleWidth int    `json:"module_width,omitempty"`
}

// options lists which option keys each kind accepts.
var options = map[Kind][]string{
	KindText:    {"align", "bold", "underline", "invert", "width", "height", "font"},
	KindLine:    {"bold", "font"},
	KindColumns: {"bold", "underline", "invert", "width", "height", "font"},
	KindQR:      {"size", "level", "align"},
	KindBarcode: {"type", "hri", "bar_height", "module_width", "align"},
	KindImage:   {"align"},
	KindFeed:    {},
	KindCut:     {},
	KindDrawer:  {},
	KindBeep:    {},
}

// UnmarshalJSON decodes one block: exactly one key names its kind, the others
// must be options that kind accepts.
func (b *Block) UnmarshalJSON(data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return fmt.Errorf("a block must be a JSON object such as {\"text\": \"…\"}: %w", err)
	}
	var kind Kind
	for k := range fields {
		if _, ok := options[Kind(k)]; ok {
			if kind != "" {
				a, z := min(string(kind), k), max(string(kind), k)
				return fmt.Errorf("block has two kinds, %q and %q: use one block for each", a, z)
			}
			kind = Kind(k)
		}
	}
	if kind == "" {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return fmt.Errorf("block has no kind (keys %q): it needs one of %s", keys, kindList())
	}
	*b = Block{Kind: kind}
	val := fields[string(kind)]
	var err error
	switch kind {
	case KindText, KindQR, KindBarcode:
		err = json.Unmarshal(val, &b.Text)
	case KindLine:
		if string(val) != "true" {
			err = json.Unmarshal(val, &b.Text)
		}
	case KindColumns:
		err = json.Unmarshal(val, &b.Columns)
	case KindImage:
		err = json.Unmarshal(val, &b.Image) // base64
	case KindFeed, KindBeep, KindDrawer:
		err = json.Unmarshal(val, &b.N)
	case KindCut:
		if string(val) == "true" {
			b.Cut = "full"
		} else {
			err = json.Unmarshal(val, &b.Cut)
		}
	}
	if err != nil {
		return fmt.Errorf("%q: %w", kind, err)
	}
	delete(fields, string(kind))
	allowed := options[kind]
	for k := range fields {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return fmt.Errorf("%q block takes no options, got %q", kind, k)
			}
			return fmt.Errorf("%q block: unknown option %q (it takes %s)", kind, k, strings.Join(allowed, ", "))
		}
	}
	rest, _ := json.Marshal(fields)
	var o blockJSON
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return fmt.Errorf("%q block: %w", kind, err)
	}
	b.Align, b.Bold, b.Underline, b.Invert = o.Align, o.Bold, o.Underline, o.Invert
	b.Width, b.Height, b.Font = o.Width, o.Height, o.Font
	b.Size, b.Level = o.Size, o.Level
	b.Symbology, b.HRI, b.BarHeight, b.ModuleWidth = o.Type, o.HRI, o.BarHeight, o.ModuleWidth
	return nil
}

// MarshalJSON encodes a block in the same shape UnmarshalJSON reads.
func (b Block) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	switch b.Kind {
	case KindText, KindLine, KindQR, KindBarcode:
		m[string(b.Kind)] = b.Text
	case KindColumns:
		m[string(b.Kind)] = b.Columns
	case KindImage:
		m[string(b.Kind)] = b.Image
	case KindFeed, KindBeep, KindDrawer:
		m[string(b.Kind)] = b.N
	case KindCut:
		m[string(b.Kind)] = b.Cut
	default:
		return nil, fmt.Errorf("block of unknown kind %q", b.Kind)
	}
	o, _ := json.Marshal(blockJSON{b.Align, b.Bold, b.Underline, b.Invert, b.Width, b.Height, b.Font,
		b.Size, b.Level, b.Symbology, b.HRI, b.BarHeight, b.ModuleWidth})
	var om map[string]any
	_ = json.Unmarshal(o, &om)
	for k, v := range om {
		m[k] = v
	}
	return json.Marshal(m)
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Validate checks every block and reports the first problem with its index,
// such as "document[3]: width 9: want 1 to 8".
func (d Document) Validate() error {
	if len(d) == 0 {
		return fmt.Errorf("document is empty")
	}
	if len(d) > MaxBlocks {
		return fmt.Errorf("document has %d blocks, more than %d", len(d), MaxBlocks)
	}
	for i := range d {
		if err := d[i].Validate(); err != nil {
			return fmt.Errorf("document[%d]: %w", i, err)
		}
	}
	return nil
}

// Validate reports the first thing wrong with a block.
func (b *Block) Validate() error {
	check := func(name string, v, lo, hi int) error {
		if v != 0 && (v < lo || v > hi) {
			return fmt.Errorf("%s %d: want %d to %d", name, v, lo, hi)
		}
		return nil
	}
	oneOf := func(name, v string, allowed ...string) error {
		if v != "" && !slices.Contains(allowed, v) {
			return fmt.Errorf("%s %q: want one of %s", name, v, strings.Join(allowed, ", "))
		}
		return nil
	}
	text := func(s string) error {
		if len(s) > MaxTextLen {
			return fmt.Errorf("text is %d bytes, more than %d", len(s), MaxTextLen)
		}
		if !utf8.ValidString(s) {
			return fmt.Errorf("text is not valid UTF-8")
		}
		return nil
	}
	errs := []error{
		oneOf("align", b.Align, "left", "center", "right"),
		oneOf("font", b.Font, "a", "b"),
		check("width", b.Width, 1, 8),
		check("height", b.Height, 1, 8),
	}
	switch b.Kind {
	case KindText:
		errs = append(errs, text(b.Text))
	case KindLine:
		if utf8.RuneCountInString(b.Text) > 1 {
			errs = append(errs, fmt.Errorf("line %q: want one character", b.Text))
		}
	case KindColumns:
		if len(b.Columns) != 2 {
			errs = append(errs, fmt.Errorf("columns has %d entries: want 2 (item, price)", len(b.Columns)))
		}
		for _, c := range b.Columns {
			errs = append(errs, text(c))
		}
	case KindQR:
		if b.Text == "" {
			errs = append(errs, fmt.Errorf("qr data is empty"))
		}
		if len(b.Text) > MaxQRLen {
			errs = append(errs, fmt.Errorf("qr data is %d bytes, more than a QR code holds (%d)", len(b.Text), MaxQRLen))
		}
		errs = append(errs, check("size", b.Size, 1, 16), oneOf("level", b.Level, "l", "m", "q", "h"))
	case KindBarcode:
		if b.Text == "" {
			errs = append(errs, fmt.Errorf("barcode data is empty"))
		}
		if len(b.Text) > MaxBarcodeLen {
			errs = append(errs, fmt.Errorf("barcode data is %d bytes, more than %d", len(b.Text), MaxBarcodeLen))
		}
		if b.Symbology == "" {
			errs = append(errs, fmt.Errorf("barcode needs a type (%s)", strings.Join(Symbologies, ", ")))
		}
		errs = append(errs, oneOf("type", b.Symbology, Symbologies...),
			check("bar_height", b.BarHeight, 1, 255), check("module_width", b.ModuleWidth, 2, 6))
	case KindImage:
		if len(b.Image) == 0 {
			errs = append(errs, fmt.Errorf("image is empty: want a base64 PNG"))
		}
		if len(b.Image) > MaxImageBytes {
			errs = append(errs, fmt.Errorf("image is %d bytes, more than %d", len(b.Image), MaxImageBytes))
		}
	case KindFeed:
		errs = append(errs, check("feed", b.N, 0, MaxFeed))
		if b.N < 0 {
			errs = append(errs, fmt.Errorf("feed %d: want 0 to %d", b.N, MaxFeed))
		}
	case KindCut:
		errs = append(errs, oneOf("cut", b.Cut, "full", "partial"))
	case KindDrawer:
		if b.N != 1 && b.N != 2 {
			errs = append(errs, fmt.Errorf("drawer %d: want pin 1 or 2", b.N))
		}
	case KindBeep:
		if b.N < 1 || b.N > MaxBeeps {
			errs = append(errs, fmt.Errorf("beep %d: want 1 to %d", b.N, MaxBeeps))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown block kind %q", b.Kind))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
