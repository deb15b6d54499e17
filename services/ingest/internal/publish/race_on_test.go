//go:build race

package publish

// raceEnabled: the race detector allocates on its own, so allocation counts are not compared.
const raceEnabled = true
