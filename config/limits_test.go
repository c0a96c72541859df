package config_test

import (
	"strings"
	"testing"

	"github.com/comandera/comandera/config"
)

// TestHostileShapes: inputs that would overflow hclsyntax's recursive parser
// or evaluator (a fatal error, not a panic) are refused with a diagnostic;
// inputs just inside the limits parse and evaluate.
func TestHostileShapes(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"x = " + strings.Repeat("[", 500000), "deep.hcl:1:69: Nesting too deep; More than 64 brackets, braces, parentheses, strings or templates are open here.\n"},
		{"x = " + strings.Repeat("(", 100000), "deep.hcl:1:69: Nesting too deep; More than 64 brackets, braces, parentheses, strings or templates are open here.\n"},
		{"x = " + strings.Repeat("{a=", 100000), "deep.hcl:1:197: Nesting too deep; More than 64 brackets, braces, parentheses, strings or templates are open here.\n"},
		{"x = \"" + strings.Repeat("${\"", 100000), "deep.hcl:1:101: Nesting too deep; More than 64 brackets, braces, parentheses, strings or templates are open here.\n"},
		{strings.Repeat("a {", 100000), "deep.hcl:1:195: Nesting too deep; More than 64 brackets, braces, parentheses, strings or templates are open here.\n"},
		{"x = " + strings.Repeat("-", 500000) + "1", "deep.hcl:1:10005: Configuration too complex; More than 10000 operators, index brackets and dots in one file.\n"},
		{"x = " + strings.Repeat("true ? 1 : ", 20000) + "2", "deep.hcl:1:110010: Configuration too complex; More than 10000 operators, index brackets and dots in one file.\n"},
	} {
		_, diags := config.Parse([]byte(tc.src), "deep.hcl")
		if got := config.Format(diags); got != tc.want {
			t.Errorf("%.12q…: got %q, want %q", tc.src, got, tc.want)
		}
	}
	for _, expr := range []string{
		strings.Repeat("-", 9990) + "1",
		strings.Repeat("!", 9990) + "true",
		strings.Repeat("true ? 1 : ", 9990) + "2",
		strings.Repeat("1 + ", 9990) + "2",
		strings.Repeat("1 == ", 9990) + "2",
		"[1]" + strings.Repeat("[0]", 9990),
		"{a=1}" + strings.Repeat(".a", 9990),
		strings.Repeat("[", 60) + strings.Repeat("]", 60),
	} {
		src := "printer \"a\" {\n  fakenet { address = " + expr + " }\n}\n"
		config.Parse([]byte(src), "deep.hcl") // must return, with or without errors
	}
}
