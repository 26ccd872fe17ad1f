package rules

import (
	"fmt"
	"strings"
)

// SplitWords is the one tokeniser of option strings such as --restore-opts:
// it splits s at blanks as a shell does. Single quotes keep everything up
// to the next single quote; double quotes group too, and inside them a
// backslash keeps the next character as it is; outside quotes a backslash
// keeps the next character, so `x\ y` is one word. The reason follows a
// colon.
func SplitWords(s string) ([]string, string) {
	var (
		words   []string
		cur     strings.Builder
		inWord  bool
		quote   rune
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\':
			escaped, inWord = true, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	switch {
	case quote != 0:
		return nil, fmt.Sprintf("an opening %c has no closing one", quote)
	case escaped:
		return nil, "the last backslash escapes nothing; write \\\\ for a backslash"
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, ""
}
