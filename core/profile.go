package core

import (
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Command sets a profile can speak.
const (
	CommandSetESCPOS      = "escpos"      // Epson ESC/POS and its clones
	CommandSetStarLine    = "starline"    // Star Line Mode (TSP650, TSP700, SP700…)
	CommandSetStarGraphic = "stargraphic" // Star Graphic Mode: raster only (TSP100 futurePRNT)
)

// Raster methods for images.
const (
	RasterGSv0    = "gs_v_0"      // GS v 0: raster bit image (default on ESC/POS)
	RasterGS8L    = "gs_8_l"      // GS 8 L / GS ( L: graphics data store and print
	RasterESCStar = "esc_star"    // ESC *: 24-dot bit image stripes, for old firmware
	RasterStar    = "star_raster" // Star ESC * r / ESC GS S raster commands
)

// DefaultProfile is used by a printer or a render that names no profile: a
// generic 80 mm ESC/POS printer, 576 dots, PC858 selected.
const DefaultProfile = "generic-80mm"

// A Profile is data about one printer model: which commands it speaks, how wide
// its paper is in dots, which code pages it has under which numbers, and which
// features it offers. Documents are encoded for a profile; behaviour that data
// cannot express belongs in a quirks plugin. Built-in profiles live in
// profiles.hcl beside this file; `profile` blocks in printers.hcl add or
// override them with the same schema.
type Profile struct {
	Name string `hcl:"name,label" json:"name"`
	// Base names a profile this one starts from; attributes set here override it.
	Base        string `hcl:"base,optional" json:"base,omitempty"`
	Description string `hcl:"description,optional" json:"description,omitempty"`
	Vendor      string `hcl:"vendor,optional" json:"vendor,omitempty"`
	// Models are IEEE 1284 MDL values or USB product names this profile fits,
	// used by discovery to suggest it (case-insensitive substring match).
	Models []string `hcl:"models,optional" json:"models,omitempty"`
	// USBIDs are "vvvv:pppp" hex vendor:product pairs this profile fits.
	USBIDs []string `hcl:"usb_ids,optional" json:"usb_ids,omitempty"`

	// CommandSet is escpos (default), starline or stargraphic.
	CommandSet string `hcl:"command_set,optional" json:"command_set"`
	// DotsPerLine is the printable width in dots: 576 on 80 mm, 512 on the
	// TM-T88 class, 384 on 58 mm.
	DotsPerLine int `hcl:"dots_per_line,optional" json:"dots_per_line"`
	// DPI is the head's resolution (203 on most, 180 on the TM-T88 class).
	DPI int `hcl:"dpi,optional" json:"dpi"`
	// FontAColumns and FontBColumns are characters per line in each font at
	// normal width (default: dots / 12 and dots / 9).
	FontAColumns int `hcl:"font_a_columns,optional" json:"font_a_columns"`
	FontBColumns int `hcl:"font_b_columns,optional" json:"font_b_columns"`
	// CodePages maps code page names (PC437, PC858, WPC1252…) to the number
	// that selects them on this model (ESC t n on ESC/POS, ESC GS t n on Star).
	CodePages map[string]int `hcl:"code_pages,optional" json:"code_pages"`
	// DefaultCodePage is the page in force after initialisation (ESC @).
	DefaultCodePage string `hcl:"default_code_page,optional" json:"default_code_page"`

	// Cuts lists the cuts the cutter can make: "full", "partial". Empty: no
	// cutter, a cut block only feeds the paper to the tear bar.
	Cuts []string `hcl:"cuts,optional" json:"cuts"`
	// CutFeed is how many dots the paper is fed before a cut so the last
	// printed line clears the blade.
	CutFeed int `hcl:"cut_feed,optional" json:"cut_feed"`
	// QR reports native QR code support; without it QR codes are sent as images.
	QR bool `hcl:"qr,optional" json:"qr"`
	// Barcodes lists the native barcode symbologies (upca, upce, ean13, ean8,
	// code39, itf, codabar, code93, code128).
	Barcodes []string `hcl:"barcodes,optional" json:"barcodes"`
	// Raster is how images are sent: gs_v_0 (default on escpos), gs_8_l,
	// esc_star, star_raster (default on Star).
	Raster string `hcl:"raster,optional" json:"raster"`
	// MaxBandHeight is the tallest raster band, in dots, the model prints
	// correctly in one command.
	MaxBandHeight int `hcl:"max_band_height,optional" json:"max_band_height"`
	// Drawer reports a cash drawer kick-out connector.
	Drawer bool `hcl:"drawer,optional" json:"drawer"`
	// Beep reports a buzzer.
	Beep bool `hcl:"beep,optional" json:"beep"`
	// Quirks names the plugin that printers of this model use unless their
	// printer block names another.
	Quirks string `hcl:"quirks,optional" json:"quirks,omitempty"`
}

// Barcode symbologies, as documents and profiles name them.
var Symbologies = []string{"upca", "upce", "ean13", "ean8", "code39", "itf", "codabar", "code93", "code128"}

// HasCut reports whether the cutter can make the named cut.
func (p *Profile) HasCut(kind string) bool { return slices.Contains(p.Cuts, kind) }

// HasBarcode reports whether the model prints the symbology natively.
func (p *Profile) HasBarcode(sym string) bool { return slices.Contains(p.Barcodes, sym) }

// Columns returns characters per line at normal width in font "a" or "b".
func (p *Profile) Columns(font string) int {
	if font == "b" {
		return p.FontBColumns
	}
	return p.FontAColumns
}

// CodePageNumber returns the number that selects the named code page, if the
// model has it.
func (p *Profile) CodePageNumber(name string) (int, bool) {
	n, ok := p.CodePages[strings.ToUpper(name)]
	return n, ok
}

// CodePageByNumber returns the name of the code page selected by n.
func (p *Profile) CodePageByNumber(n int) (string, bool) {
	for name, num := range p.CodePages {
		if num == n {
			return name, true
		}
	}
	return "", false
}

// preferredPages are tried, after the default, before the rest: the Western
// pages that hold Spanish, the euro sign and most of Latin-1, so a Spanish
// ticket switches pages as rarely as possible.
var preferredPages = []string{"PC858", "WPC1252", "ISO8859-15", "PC850", "ISO8859-1", "PC437"}

// CodePageOrder lists the model's code pages in the order an encoder tries
// them: the default first, then the Western pages, then the rest by number.
func (p *Profile) CodePageOrder() []string {
	rank := func(name string) int {
		if name == p.DefaultCodePage {
			return -1
		}
		if i := slices.Index(preferredPages, name); i >= 0 {
			return i
		}
		return len(preferredPages)
	}
	names := slices.Collect(maps.Keys(p.CodePages))
	slices.SortFunc(names, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if p.CodePages[a] != p.CodePages[b] {
			return p.CodePages[a] - p.CodePages[b]
		}
		return strings.Compare(a, b)
	})
	return names
}

// Clone returns a deep copy of p.
func (p *Profile) Clone() *Profile {
	c := *p
	c.Models = slices.Clone(p.Models)
	c.USBIDs = slices.Clone(p.USBIDs)
	c.CodePages = maps.Clone(p.CodePages)
	c.Cuts = slices.Clone(p.Cuts)
	c.Barcodes = slices.Clone(p.Barcodes)
	return &c
}

// normalize fills defaults derived from other fields.
func (p *Profile) normalize() {
	if p.CommandSet == "" {
		p.CommandSet = CommandSetESCPOS
	}
	if p.DPI == 0 {
		p.DPI = 203
	}
	if p.FontAColumns == 0 && p.DotsPerLine > 0 {
		p.FontAColumns = p.DotsPerLine / 12
	}
	if p.FontBColumns == 0 && p.DotsPerLine > 0 {
		p.FontBColumns = p.DotsPerLine / 9
	}
	if p.Raster == "" {
		p.Raster = RasterGSv0
		if p.CommandSet != CommandSetESCPOS {
			p.Raster = RasterStar
		}
	}
	if p.MaxBandHeight == 0 {
		p.MaxBandHeight = 256
	}
	upper := make(map[string]int, len(p.CodePages))
	for k, v := range p.CodePages {
		upper[strings.ToUpper(k)] = v
	}
	p.CodePages = upper
	p.DefaultCodePage = strings.ToUpper(p.DefaultCodePage)
	if p.DefaultCodePage == "" {
		if _, ok := p.CodePages["PC437"]; ok {
			p.DefaultCodePage = "PC437"
		} else if order := p.CodePageOrder(); len(order) > 0 {
			p.DefaultCodePage = order[0]
		}
	}
}

// Validate reports the first thing wrong with a profile.
func (p *Profile) Validate() error {
	switch p.CommandSet {
	case CommandSetESCPOS, CommandSetStarLine, CommandSetStarGraphic:
	default:
		return fmt.Errorf("command_set %q: want %q, %q or %q", p.CommandSet, CommandSetESCPOS, CommandSetStarLine, CommandSetStarGraphic)
	}
	if p.DotsPerLine < 96 || p.DotsPerLine > 4096 {
		return fmt.Errorf("dots_per_line %d: want 96 to 4096", p.DotsPerLine)
	}
	if p.DPI < 100 || p.DPI > 600 {
		return fmt.Errorf("dpi %d: want 100 to 600", p.DPI)
	}
	if len(p.CodePages) == 0 {
		return fmt.Errorf("code_pages is empty: a profile needs at least one code page")
	}
	for name, n := range p.CodePages {
		if _, ok := CodePage(name); !ok {
			return fmt.Errorf("code_pages: unknown code page %q (known: %s)", name, strings.Join(CodePageNames(), ", "))
		}
		if n < 0 || n > 255 {
			return fmt.Errorf("code_pages: %s = %d: the number must be 0 to 255", name, n)
		}
	}
	if _, ok := p.CodePages[p.DefaultCodePage]; !ok {
		return fmt.Errorf("default_code_page %q is not in code_pages", p.DefaultCodePage)
	}
	for _, c := range p.Cuts {
		if c != "full" && c != "partial" {
			return fmt.Errorf("cuts: %q: want \"full\" or \"partial\"", c)
		}
	}
	for _, b := range p.Barcodes {
		if !slices.Contains(Symbologies, b) {
			return fmt.Errorf("barcodes: unknown symbology %q (known: %s)", b, strings.Join(Symbologies, ", "))
		}
	}
	switch p.Raster {
	case RasterGSv0, RasterGS8L, RasterESCStar, RasterStar:
	default:
		return fmt.Errorf("raster %q: want %s, %s, %s or %s", p.Raster, RasterGSv0, RasterGS8L, RasterESCStar, RasterStar)
	}
	if p.MaxBandHeight < 1 || p.MaxBandHeight > 65535 {
		return fmt.Errorf("max_band_height %d: want 1 to 65535", p.MaxBandHeight)
	}
	for _, id := range p.USBIDs {
		var v, pr uint16
		if n, err := fmt.Sscanf(id, "%04x:%04x", &v, &pr); n != 2 || err != nil || len(id) != 9 {
			return fmt.Errorf("usb_ids: %q: want vvvv:pppp in hex", id)
		}
	}
	return nil
}

// Profiles is a set of profiles by name.
type Profiles map[string]*Profile

// Lookup returns the named profile; the empty name means DefaultProfile.
func (ps Profiles) Lookup(name string) (*Profile, error) {
	if name == "" {
		name = DefaultProfile
	}
	p, ok := ps[name]
	if !ok {
		return nil, fmt.Errorf("unknown profile %q (known: %s)", name, strings.Join(ps.Names(), ", "))
	}
	return p, nil
}

// Names lists the profile names, sorted.
func (ps Profiles) Names() []string {
	return slices.Sorted(maps.Keys(ps))
}

// Clone returns a deep copy of the set.
func (ps Profiles) Clone() Profiles {
	c := make(Profiles, len(ps))
	for k, p := range ps {
		c[k] = p.Clone()
	}
	return c
}

// DecodeProfile decodes one `profile "NAME" { … }` block. When the block names
// a base, the base is looked up in known and the block's attributes override
// it. The result is normalised and validated; every problem is a diagnostic
// anchored in the block.
func DecodeProfile(block *hcl.Block, ctx *hcl.EvalContext, known Profiles) (*Profile, hcl.Diagnostics) {
	var p Profile
	if len(block.Labels) == 1 {
		p.Name = block.Labels[0]
	}
	// First pass: find the base, so the block decodes on top of it.
	attrs, diags := block.Body.JustAttributes()
	if diags.HasErrors() {
		// Let the full decode below report precise problems.
		attrs = nil
	}
	if a, ok := attrs["base"]; ok {
		var base string
		if d := gohcl.DecodeExpression(a.Expr, ctx, &base); d.HasErrors() {
			return nil, d
		}
		bp, ok := known[base]
		if !ok {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Unknown base profile",
				Detail:   fmt.Sprintf("Profile %q is based on %q, which is not defined (known: %s).", p.Name, base, strings.Join(known.Names(), ", ")),
				Subject:  a.Expr.Range().Ptr(),
			}}
		}
		p = *bp.Clone()
		p.Base = base
	}
	// gohcl leaves fields the block does not set as they are, so the base's
	// values survive where the block is silent.
	diags = gohcl.DecodeBody(block.Body, ctx, &p)
	if len(block.Labels) == 1 {
		p.Name = block.Labels[0]
	}
	if diags.HasErrors() {
		return nil, diags
	}
	p.normalize()
	if err := p.Validate(); err != nil {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid profile",
			Detail:   fmt.Sprintf("Profile %q: %v.", p.Name, err),
			Subject:  block.DefRange.Ptr(),
		})
	}
	return &p, diags
}

//go:embed profiles.hcl
var builtinHCL []byte

var (
	builtinOnce sync.Once
	builtin     Profiles
)

// Builtin returns a fresh copy of the built-in profiles (from profiles.hcl).
func Builtin() Profiles {
	builtinOnce.Do(func() {
		ps, diags := ParseProfiles(builtinHCL, "core/profiles.hcl", nil)
		if diags.HasErrors() {
			panic("core: built-in profiles.hcl is invalid: " + diags.Error())
		}
		builtin = ps
	})
	return builtin.Clone()
}

// ParseProfiles parses a file made only of profile blocks on top of known
// (which may be nil) and returns the combined set.
func ParseProfiles(src []byte, filename string, known Profiles) (Profiles, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	content, d := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "profile", LabelNames: []string{"name"}}}})
	diags = append(diags, d...)
	ps := known.Clone()
	if ps == nil {
		ps = Profiles{}
	}
	for _, b := range content.Blocks {
		p, d := DecodeProfile(b, nil, ps)
		diags = append(diags, d...)
		if p != nil {
			ps[p.Name] = p
		}
	}
	return ps, diags
}
