package config

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// FormatDiagnostic renders one diagnostic on one line:
//
//	printers.hcl:12:3: summary; detail
//
// Warnings have "warning: " before the summary. A diagnostic with a file but
// no position is "printers.hcl: summary; detail"; one with no subject at all
// is just "summary; detail".
func FormatDiagnostic(d *hcl.Diagnostic) string {
	var b strings.Builder
	if r := d.Subject; r != nil && r.Filename != "" {
		b.WriteString(r.Filename)
		if r.Start.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", r.Start.Line, r.Start.Column)
		}
		b.WriteString(": ")
	}
	if d.Severity == hcl.DiagWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(oneLine(d.Summary))
	if d.Detail != "" {
		b.WriteString("; ")
		b.WriteString(oneLine(d.Detail))
	}
	return b.String()
}

// Format renders every diagnostic, one per line, each line ending in "\n".
func Format(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(FormatDiagnostic(d))
		b.WriteByte('\n')
	}
	return b.String()
}

// WriteDiagnostics writes Format(diags) to w.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	_, err := io.WriteString(w, Format(diags))
	return err
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// sortDiagnostics orders diagnostics by file and position; those without a
// position keep their order and come first (they are about the whole file).
func sortDiagnostics(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		ra, rb := a.Subject, b.Subject
		switch {
		case ra == nil && rb == nil:
			return 0
		case ra == nil:
			return -1
		case rb == nil:
			return 1
		}
		return cmp.Or(
			cmp.Compare(ra.Filename, rb.Filename),
			cmp.Compare(ra.Start.Byte, rb.Start.Byte),
		)
	})
}

func errAt(r hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: r.Ptr()}
}

func warnAt(r hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: detail, Subject: r.Ptr()}
}

func posString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
