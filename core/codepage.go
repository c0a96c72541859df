package core

import (
	"slices"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// codePages maps a code page name, as profiles spell it, to its character map.
// Which number selects it (ESC t n, ESC GS t n) is per profile.
var codePages = map[string]*charmap.Charmap{
	"PC437":      charmap.CodePage437,
	"PC850":      charmap.CodePage850,
	"PC852":      charmap.CodePage852,
	"PC855":      charmap.CodePage855,
	"PC858":      charmap.CodePage858,
	"PC860":      charmap.CodePage860,
	"PC862":      charmap.CodePage862,
	"PC863":      charmap.CodePage863,
	"PC865":      charmap.CodePage865,
	"PC866":      charmap.CodePage866,
	"WPC1250":    charmap.Windows1250,
	"WPC1251":    charmap.Windows1251,
	"WPC1252":    charmap.Windows1252,
	"WPC1253":    charmap.Windows1253,
	"WPC1254":    charmap.Windows1254,
	"WPC1255":    charmap.Windows1255,
	"WPC1256":    charmap.Windows1256,
	"WPC1257":    charmap.Windows1257,
	"WPC1258":    charmap.Windows1258,
	"ISO8859-1":  charmap.ISO8859_1,
	"ISO8859-2":  charmap.ISO8859_2,
	"ISO8859-7":  charmap.ISO8859_7,
	"ISO8859-15": charmap.ISO8859_15,
}

// CodePage returns the character map of the named code page (case-insensitive).
func CodePage(name string) (*charmap.Charmap, bool) {
	cm, ok := codePages[strings.ToUpper(name)]
	return cm, ok
}

// CodePageNames lists the code pages Comandera can transcode to, sorted.
func CodePageNames() []string {
	names := make([]string, 0, len(codePages))
	for n := range codePages {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
