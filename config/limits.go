package config

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Limits on the shape of a configuration. hclsyntax parses and evaluates
// nested expressions recursively, so without them a small hostile file
// ("[[[[…" or "-----…1") overflows the goroutine stack, which is fatal, not a
// panic. A real printers.hcl is far inside both.
const (
	// maxNesting bounds open brackets, braces, parentheses, quotes and
	// template sequences at any point.
	maxNesting = 64
	// maxChain bounds the operators, ternaries, index brackets and dots in
	// the whole file: each can add a level to an expression tree.
	maxChain = 10000
)

// checkShape lexes src (the lexer is not recursive) and reports the first
// place it goes past a limit.
func checkShape(src []byte, filename string) hcl.Diagnostics {
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	depth, chain := 0, 0
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			if depth++; depth > maxNesting {
				return hcl.Diagnostics{errAt(t.Range, "Nesting too deep", fmt.Sprintf("More than %d brackets, braces, parentheses, strings or templates are open here.", maxNesting))}
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if depth > 0 {
				depth--
			}
		}
		switch t.Type {
		case hclsyntax.TokenStar, hclsyntax.TokenSlash, hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenPercent,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq,
			hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq, hclsyntax.TokenAnd, hclsyntax.TokenOr,
			hclsyntax.TokenBang, hclsyntax.TokenQuestion, hclsyntax.TokenOBrack, hclsyntax.TokenDot:
			if chain++; chain > maxChain {
				return hcl.Diagnostics{errAt(t.Range, "Configuration too complex", fmt.Sprintf("More than %d operators, index brackets and dots in one file.", maxChain))}
			}
		}
	}
	return nil
}
