package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The import rules of docs/architecture.md, "Packages and who may import
// whom". A rule names a set of importing packages and the imports they must
// not have; packages are module paths ("danbao/internal/ledger"), and a
// pattern ending in "/..." covers a folder and everything under it.

// edge is the code that speaks HTTP and GraphQL or wires the program.
var edge = []string{"danbao", "danbao/graph/...", "danbao/resolvers", "danbao/internal/app", "danbao/internal/testenv", "danbao/internal/tools/..."}

// pure packages hold rules and representations only: no storage, no ent.
var pure = []string{
	"danbao/internal/apperr", "danbao/internal/money", "danbao/internal/kyc",
	"danbao/internal/bank", "danbao/internal/vault", "danbao/internal/ratelimit",
	"danbao/internal/obs", "danbao/internal/softauthn", "danbao/internal/page",
}

var importRules = []struct {
	why       string
	importers []string // packages the rule applies to
	except    []string // importers exempt from it
	forbidden []string // imports they must not have
}{
	{
		why:       "domain code never depends on the GraphQL edge or the wiring",
		importers: []string{"danbao/auth", "danbao/internal/..."},
		except:    []string{"danbao/internal/app", "danbao/internal/testenv", "danbao/internal/tools/..."},
		forbidden: edge,
	},
	{
		why:       "pure rules have no storage: table tests cover them without a database",
		importers: pure,
		forbidden: []string{"danbao/ent/...", "entgo.io/...", "database/sql", "danbao/internal/dbtx", "danbao/internal/db"},
	},
	{
		why:       "generated ent code may use only the pure leaves its schema needs",
		importers: []string{"danbao/ent/..."},
		forbidden: []string{"danbao/auth", "danbao/resolvers", "danbao/graph/...", "danbao/internal/..."},
		except:    nil,
	},
	{
		why:       "resolvers are thin: transactions begin in services (dbtx.WithTx), never in a resolver",
		importers: []string{"danbao/resolvers", "danbao/graph/..."},
		forbidden: []string{"danbao/internal/dbtx", "danbao/internal/db", "danbao/internal/migrations", "database/sql", "entgo.io/ent/dialect/sql"},
	},
	{
		why:       "test helpers never reach production code",
		importers: []string{"danbao/..."},
		except:    []string{"danbao/internal/testenv"},
		forbidden: []string{"danbao/internal/testenv", "testing", "net/http/httptest"},
	},
}

// knownViolations are breaches being fixed elsewhere, each with where; a
// fixed one must be removed from here (the test says so).
var knownViolations = map[string]string{}

// entAllowed are the internal packages ent's schema may use (its column types).
var entAllowed = []string{"danbao/internal/kyc", "danbao/internal/money", "danbao/internal/apperr"}

func matches(pkg string, patterns []string) bool {
	for _, p := range patterns {
		if base, ok := strings.CutSuffix(p, "/..."); ok {
			if pkg == base || strings.HasPrefix(pkg, base+"/") {
				return true
			}
		} else if pkg == p {
			return true
		}
	}
	return false
}

// productionImports maps each package of the module to the imports of its
// non-test files.
func productionImports(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != "." && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "data") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := path.Join("danbao", filepath.ToSlash(filepath.Dir(p)))
		if out[pkg] == nil {
			out[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			v, _ := strconv.Unquote(imp.Path.Value)
			out[pkg][v] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportRules enforces the package layering of docs/architecture.md.
func TestImportRules(t *testing.T) {
	imports := productionImports(t)
	seen := map[string]bool{}
	if len(imports["danbao/internal/ledger"]) == 0 || len(imports["danbao/resolvers"]) == 0 {
		t.Fatal("the walk found no imports of ledger or resolvers: it is not reading the tree")
	}
	for _, r := range importRules {
		for pkg, imps := range imports {
			if !matches(pkg, r.importers) || matches(pkg, r.except) {
				continue
			}
			for imp := range imps {
				if !matches(imp, r.forbidden) || imp == pkg {
					continue
				}
				if strings.HasPrefix(pkg, "danbao/ent") && (matches(imp, []string{"danbao/ent/..."}) || matches(imp, entAllowed)) {
					continue
				}
				if _, known := knownViolations[pkg+" -> "+imp]; known {
					seen[pkg+" -> "+imp] = true
					continue
				}
				t.Errorf("%s imports %s: %s", pkg, imp, r.why)
			}
		}
	}
	for v := range knownViolations {
		if !seen[v] {
			t.Errorf("%s no longer happens: remove it from knownViolations", v)
		}
	}
}

// TestImportRulesCatch: the rules do refuse what they describe.
func TestImportRulesCatch(t *testing.T) {
	for _, c := range []struct{ pkg, imp string }{
		{"danbao/internal/ledger", "danbao/resolvers"},
		{"danbao/internal/money", "danbao/ent"},
		{"danbao/resolvers", "danbao/internal/dbtx"},
		{"danbao/internal/wallet", "danbao/internal/testenv"},
	} {
		caught := false
		for _, r := range importRules {
			if matches(c.pkg, r.importers) && !matches(c.pkg, r.except) && matches(c.imp, r.forbidden) {
				caught = true
			}
		}
		if !caught {
			t.Errorf("%s importing %s passes every rule", c.pkg, c.imp)
		}
	}
}
