package escpos

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Text layout shared by every encoder (ESC/POS here, Star Line Mode in the
// star plugin), so a document wraps the same way whatever the printer speaks.
// Lines are runes, one per character cell; the caller transcodes them.

// TextLines lays out a text block for a line of cols characters: split on
// newlines (a single trailing newline adds no blank line), NFC-normalised,
// tabs as spaces, word-wrapped at spaces where it can and inside words where
// it must. Leading spaces (indentation) are kept.
func TextLines(text string, cols int) [][]rune {
	var out [][]rune
	for _, l := range splitLines(text) {
		out = append(out, wrap(prepare(l), cols)...)
	}
	return out
}

// RuleLine is a separator: the first character of ch (default '-')
// repeated across cols.
func RuleLine(ch string, cols int) []rune {
	c, _ := utf8.DecodeRuneInString(ch)
	if ch == "" {
		c = '-'
	}
	line := make([]rune, max(cols, 0))
	for i := range line {
		line[i] = c
	}
	return line
}

// ColumnLines lays out a columns block, [left, right], in cols characters:
// the right text right-aligned on the first line, the left text wrapped in
// the space left of it. A right text too long to share a line goes on its
// own lines, right-aligned, after the left text wrapped to the full width.
func ColumnLines(columns []string, cols int) [][]rune {
	var left, right string
	if len(columns) > 0 {
		left = columns[0]
	}
	if len(columns) > 1 {
		right = strings.Join(splitLines(columns[1]), " ")
	}
	r := trimSpaces(prepare(right))
	lw := cols - len(r) - 1
	if len(r) == 0 || lw < 1 {
		out := TextLines(left, cols)
		for _, w := range wrap(r, cols) {
			out = append(out, padLeft(w, cols))
		}
		return out
	}
	out := TextLines(left, lw)
	out[0] = append(padRight(out[0], cols-len(r)), r...)
	return out
}

// splitLines splits text on newlines ("\r\n" too). A single trailing newline
// ends the last line rather than starting an empty one; empty text is one
// empty line.
func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// prepare turns one line into the runes that will print, one rune per
// character cell: NFC-normalised as the Transcoder does, tabs as spaces.
func prepare(s string) []rune {
	r := []rune(norm.NFC.String(s))
	for i, c := range r {
		if c == '\t' {
			r[i] = ' '
		}
	}
	return r
}

// wrap breaks a line into lines of at most cols runes, at spaces where it
// can, inside words where it must. Spaces at a break are dropped; leading
// spaces (indentation) are kept.
func wrap(s []rune, cols int) [][]rune {
	if len(s) <= cols {
		return [][]rune{s}
	}
	var out [][]rune
	for len(s) > cols {
		brk := -1
		for i := cols; i > 0; i-- {
			if s[i] == ' ' {
				brk = i
				break
			}
		}
		end := brk
		for end > 0 && s[end-1] == ' ' {
			end--
		}
		if brk <= 0 || end == 0 { // one word longer than the line
			out = append(out, s[:cols])
			s = s[cols:]
			continue
		}
		out = append(out, s[:end])
		for brk < len(s) && s[brk] == ' ' {
			brk++
		}
		s = s[brk:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}

func trimSpaces(r []rune) []rune {
	for len(r) > 0 && r[0] == ' ' {
		r = r[1:]
	}
	for len(r) > 0 && r[len(r)-1] == ' ' {
		r = r[:len(r)-1]
	}
	return r
}

func padRight(r []rune, n int) []rune {
	out := make([]rune, 0, max(n, len(r)))
	out = append(out, r...)
	for len(out) < n {
		out = append(out, ' ')
	}
	return out
}

func padLeft(r []rune, n int) []rune {
	if len(r) >= n {
		return r
	}
	out := make([]rune, n-len(r), n)
	for i := range out {
		out[i] = ' '
	}
	return append(out, r...)
}
