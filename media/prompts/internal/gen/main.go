// Command gen turns espeak-ng's WAV output into the prompt files embedded by
// package prompts: 8 kHz mono G.711 µ-law, trimmed and levelled. It is run
// by scripts/prompts.sh; sox would do the same, but is not something every
// developer machine or CI image has, and the Go toolchain is.
//
// Usage: go run ./media/prompts/internal/gen -in DIR -out DIR
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"

	"github.com/sentralpbx/sentral/media/wav"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	in := flag.String("in", "", "directory of espeak-ng WAV files")
	out := flag.String("out", "", "directory to write the prompt WAV files to")
	flag.Parse()
	if *in == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*in, *out); err != nil {
		log.Fatal(err)
	}
}

func run(in, out string) error {
	paths, err := filepath.Glob(filepath.Join(in, "*.wav"))
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("no WAV files in %s", in)
	}
	sort.Strings(paths)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, p := range paths {
		if err := convert(p, filepath.Join(out, filepath.Base(p))); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

func convert(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	x, rate, err := readPCM(b)
	if err != nil {
		return err
	}
	pcm := process(x, rate)
	if len(pcm) == 0 {
		return errors.New("silent")
	}
	var buf bytes.Buffer
	if err := wav.Write(&buf, wav.ULaw, pcm); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

// readPCM reads a 16-bit mono PCM WAV at any sample rate, scaled to full
// scale 1.0. media/wav is not used because it accepts only 8 kHz, and
// espeak-ng writes 22050 Hz.
func readPCM(b []byte) ([]float64, int, error) {
	le := binary.LittleEndian
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, errors.New("not a RIFF/WAVE file")
	}
	rate := 0
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(le.Uint32(b[off+4:off+8]))
		body := b[off+8:]
		// espeak-ng writing to a pipe leaves the size fields at their
		// maximum; the data then runs to the end of the file.
		if size > len(body) {
			size = len(body)
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, 0, errors.New("short fmt chunk")
			}
			format, channels, bits := le.Uint16(body[0:2]), le.Uint16(body[2:4]), le.Uint16(body[14:16])
			if format != 1 || channels != 1 || bits != 16 {
				return nil, 0, fmt.Errorf("format %d, %d channels, %d bits; want 16-bit mono PCM", format, channels, bits)
			}
			rate = int(le.Uint32(body[4:8]))
		case "data":
			if rate == 0 {
				return nil, 0, errors.New("data before fmt chunk")
			}
			x := make([]float64, size/2)
			for i := range x {
				x[i] = float64(int16(le.Uint16(body[2*i:]))) / 32768
			}
			return x, rate, nil
		}
		off += 8 + size + size&1
	}
	return nil, 0, errors.New("no data chunk")
}
