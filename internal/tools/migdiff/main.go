// Command migdiff prints the SQL that would bring a database with every
// migration of internal/migrations applied up to the current ent schema. Its
// output, when not empty, is the next migration file:
//
//	go run ./internal/tools/migdiff -dialect sqlite > internal/migrations/sqlite/0002_x.sql
//	go run ./internal/tools/migdiff -dialect postgres -url postgres://... > internal/migrations/postgres/0002_x.sql
//
// The PostgreSQL run works in a scratch schema it creates and drops.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"danbao/internal/migrations"
)

func main() {
	d := flag.String("dialect", "sqlite", "sqlite or postgres")
	url := flag.String("url", os.Getenv("DANBAO_TEST_DATABASE_URL"), "PostgreSQL URL (postgres dialect)")
	flag.Parse()
	out, err := migrations.Pending(context.Background(), *d, *url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "migdiff:", err)
		os.Exit(1)
	}
	fmt.Print(out)
}
