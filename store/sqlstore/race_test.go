//go:build race

package sqlstore_test

// raceEnabled: the race detector slows modernc SQLite about twentyfold,
// so timing assertions are skipped under it.
const raceEnabled = true
