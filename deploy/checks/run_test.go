package checks

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// runOutput runs a command with a clean NEWSFLOW_* environment and returns its stdout.
func runOutput(ctx context.Context, bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %v: %w\n%s", bin, args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}
