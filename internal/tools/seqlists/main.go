// Command seqlists rewrites gqlgen's generated executor so that the lists
// of the GraphQL types named below are marshalled one element after the
// other (graph/seq) rather than with a goroutine per element. `make
// generate` runs it after gqlgen (generate.go).
//
//	go run ./internal/tools/seqlists [-f graph/generated.go]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
	"regexp"
)

// types are the element types whose lists are marshalled in sequence:
// every field of theirs that a history page reads is a plain value.
var types = []string{"LedgerEntryEdge"}

func main() {
	file := flag.String("f", "graph/generated.go", "gqlgen's generated executor")
	flag.Parse()
	if err := rewrite(*file); err != nil {
		fmt.Fprintln(os.Stderr, "seqlists:", err)
		os.Exit(1)
	}
}

func rewrite(file string) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out := src
	for _, t := range types {
		// The list marshaller of t: func (ec *executionContext) marshal[NO]<t>2ᚕ...
		fn := regexp.MustCompile(`(?s)func \(ec \*executionContext\) marshal[NO]` + regexp.QuoteMeta(t) + `2ᚕ.*?\n}\n`)
		n := 0
		out = fn.ReplaceAllFunc(out, func(body []byte) []byte {
			n++
			return bytes.ReplaceAll(body, []byte("graphql.MarshalSliceConcurrently("), []byte("seq.MarshalSlice("))
		})
		if n == 0 {
			return fmt.Errorf("no list marshaller of %s in %s", t, file)
		}
	}
	if !bytes.Contains(out, []byte(`"danbao/graph/seq"`)) {
		out = bytes.Replace(out, []byte("import (\n"), []byte("import (\n\t\"danbao/graph/seq\"\n"), 1)
	}
	if out, err = format.Source(out); err != nil {
		return err
	}
	return os.WriteFile(file, out, 0o644)
}
