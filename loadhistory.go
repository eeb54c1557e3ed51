package main

import (
	"context"
	"errors"
	"io"

	"danbao/internal/config"
)

func loadHistoryCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	return errors.New("load history: not built yet")
}
