package main

import (
	"bytes"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func generateDir(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := run(append([]string{"-out", dir}, args...), io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	return dir
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		t.Fatalf("%s starts with a BOM", path)
	}
	r := csv.NewReader(bytes.NewReader(data))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

func TestDeterministic(t *testing.T) {
	a, b := generateDir(t), generateDir(t)
	for _, name := range []string{extensionsFile, sitesFile, departmentsFile, badRowsFile} {
		x, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}

// The committed sample files must be what the generator writes, or the
// README's "go run ./cmd/samplegen" would silently change them.
func TestCommittedFilesUpToDate(t *testing.T) {
	dir := generateDir(t)
	committed := filepath.Join("..", "..", "configs", "samples")
	for _, name := range []string{extensionsFile, sitesFile, departmentsFile, badRowsFile} {
		want, err := os.ReadFile(filepath.Join(committed, name))
		if os.IsNotExist(err) {
			t.Skipf("%s not generated yet", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.Equal(got, want) {
			t.Errorf("configs/samples/%s is stale: run go run ./cmd/samplegen", name)
		}
	}
}

func TestExtensions(t *testing.T) {
	dir := generateDir(t)
	sites := map[string]bool{}
	for _, r := range readCSV(t, filepath.Join(dir, sitesFile))[1:] {
		sites[r[0]] = true
	}
	depts := map[string]string{}
	for _, r := range readCSV(t, filepath.Join(dir, departmentsFile))[1:] {
		depts[r[0]] = r[1]
	}
	if len(sites) < 25 || len(depts) < 35 {
		t.Errorf("%d sites, %d departments; want about 30 and 40", len(sites), len(depts))
	}

	recs := readCSV(t, filepath.Join(dir, extensionsFile))
	if !slices.Equal(recs[0], extensionHeader) {
		t.Fatalf("header %v", recs[0])
	}
	rows := recs[1:]
	if len(rows) != defaultN {
		t.Fatalf("%d rows, want %d", len(rows), defaultN)
	}
	seen := map[int]bool{}
	emails := map[string]bool{}
	cos := map[string]int{}
	nordic := 0
	prev := 0
	for i, r := range rows {
		n, err := strconv.Atoi(r[0])
		if err != nil || n < firstNumber || n > lastNumber {
			t.Errorf("row %d: number %q outside %d-%d", i+1, r[0], firstNumber, lastNumber)
		}
		if seen[n] {
			t.Errorf("row %d: duplicate number %d", i+1, n)
		}
		seen[n] = true
		if n <= prev {
			t.Errorf("row %d: not sorted by number", i+1)
		}
		prev = n
		if name, ok := depts[r[2]]; !ok || name != r[3] {
			t.Errorf("row %d: department %q/%q not in the department list", i+1, r[2], r[3])
		}
		if !sites[r[4]] {
			t.Errorf("row %d: site %q not in the site list", i+1, r[4])
		}
		cos[r[5]]++
		if r[6] != "" {
			if emails[r[6]] {
				t.Errorf("row %d: duplicate e-mail %s", i+1, r[6])
			}
			emails[r[6]] = true
			local, dom, _ := strings.Cut(r[6], "@")
			if dom != defaultDomain || strings.Trim(local, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
				t.Errorf("row %d: e-mail %q not plain ASCII at %s", i+1, r[6], defaultDomain)
			}
		}
		if r[7] != "true" {
			t.Errorf("row %d: enabled = %q", i+1, r[7])
		}
		if strings.ContainsAny(r[1], "æøåÆØÅ") {
			nordic++
		}
	}
	if rows[0][0] != "2000" || rows[0][1] != "Sentralbord" {
		t.Errorf("first row %v, want the switchboard on 2000", rows[0])
	}
	if len(seen) == lastNumber-firstNumber+1 {
		t.Error("no gaps in the number series")
	}
	if nordic*10 < len(rows) {
		t.Errorf("only %d of %d names contain æ, ø or å", nordic, len(rows))
	}
	if cos["national"]*2 < len(rows) {
		t.Errorf("national is not the majority class of service: %v", cos)
	}
	for _, c := range []string{"internal", "mobile", "international"} {
		if cos[c] == 0 {
			t.Errorf("no %s extensions: %v", c, cos)
		}
	}
	for c := range cos {
		if !slices.Contains([]string{"internal", "national", "mobile", "international"}, c) {
			t.Errorf("unknown class of service %q", c)
		}
	}
}

// bad-rows.csv must hold exactly the three errors the README describes and
// nothing else wrong, or the import's error report tests would test the
// wrong thing.
func TestBadRows(t *testing.T) {
	dir := generateDir(t)
	sites := map[string]bool{}
	for _, s := range readCSV(t, filepath.Join(dir, sitesFile))[1:] {
		sites[s[0]] = true
	}
	depts := map[string]string{}
	for _, r := range readCSV(t, filepath.Join(dir, departmentsFile))[1:] {
		depts[r[0]] = r[1]
	}
	recs := readCSV(t, filepath.Join(dir, badRowsFile))
	if !slices.Equal(recs[0], extensionHeader) {
		t.Fatalf("header %v", recs[0])
	}
	rows := recs[1:]
	var problems []string
	seen := map[string]int{}
	for i, r := range rows {
		row := strconv.Itoa(i + 1)
		if n, err := strconv.Atoi(r[0]); err != nil || n < firstNumber || n > lastNumber {
			problems = append(problems, row+":number")
		}
		if _, dup := seen[r[0]]; dup {
			problems = append(problems, row+":duplicate")
		}
		seen[r[0]] = i + 1
		if !slices.Contains([]string{"internal", "national", "mobile", "international"}, r[5]) {
			problems = append(problems, row+":cos")
		}
		if depts[r[2]] != r[3] || !sites[r[4]] {
			problems = append(problems, row+":reference")
		}
	}
	want := []string{"4:number", "7:cos", "10:duplicate"}
	if !slices.Equal(problems, want) {
		t.Errorf("problems %v, want %v (update the README if this changes)", problems, want)
	}
	if good := len(rows) - len(want); good != 10 {
		t.Errorf("%d good rows, want 10", good)
	}
}

func TestCountFlag(t *testing.T) {
	dir := generateDir(t, "-n", "1000", "-bad=false")
	rows := readCSV(t, filepath.Join(dir, extensionsFile))[1:]
	if len(rows) != 1000 {
		t.Errorf("%d rows, want 1000", len(rows))
	}
	if _, err := os.Stat(filepath.Join(dir, badRowsFile)); !os.IsNotExist(err) {
		t.Errorf("-bad=false still wrote %s", badRowsFile)
	}
	if err := run([]string{"-out", t.TempDir(), "-n", "1001"}, io.Discard); err == nil {
		t.Error("-n 1001 accepted; the series only has 1000 numbers")
	}
}
