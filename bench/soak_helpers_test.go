package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentralpbx/sentral/media/codec"
)

// Helpers of the soak benchmark (soak_test.go): the RTP the sipp callers
// play (written as pcap files), free ports, /metrics readings, sipp's
// statistics and the series' arithmetic.

// soakPCAP writes a pcap of secs seconds of PCMU (two tones, loud enough
// never to count as silence) in 20 ms RTP packets, followed, when hash is
// set, by the RFC 4733 event '#' (payload type 101), as sipp's
// play_pcap_audio wants it: Ethernet, IPv4, UDP (sipp rewrites addresses
// and ports), paced by the capture times.
func soakPCAP(name string, secs int, hash bool) error {
	var buf bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1) // Ethernet
	buf.Write(hdr)

	const ssrc = 0x50a4c0de
	var seq uint16 = 1000
	var ts uint32 = 160_000
	at := time.Duration(0)
	packet := func(pt byte, marker bool, stamp uint32, payload []byte) {
		rtp := make([]byte, 12, 12+len(payload))
		rtp[0] = 0x80
		rtp[1] = pt
		if marker {
			rtp[1] |= 0x80
		}
		binary.BigEndian.PutUint16(rtp[2:], seq)
		binary.BigEndian.PutUint32(rtp[4:], stamp)
		binary.BigEndian.PutUint32(rtp[8:], ssrc)
		rtp = append(rtp, payload...)
		seq++
		udp := make([]byte, 8, 8+len(rtp))
		binary.BigEndian.PutUint16(udp[0:], 40000)
		binary.BigEndian.PutUint16(udp[2:], 40002)
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(rtp)))
		udp = append(udp, rtp...)
		ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
		var sum uint32
		for i := 0; i < 20; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[i:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		frame := append(make([]byte, 12), 0x08, 0x00) // MACs, IPv4
		frame = append(append(frame, ip...), udp...)
		rec := make([]byte, 16)
		le.PutUint32(rec[0:], uint32(at/time.Second))
		le.PutUint32(rec[4:], uint32(at%time.Second/time.Microsecond))
		le.PutUint32(rec[8:], uint32(len(frame)))
		le.PutUint32(rec[12:], uint32(len(frame)))
		buf.Write(rec)
		buf.Write(frame)
		at += 20 * time.Millisecond
	}
	pcm := make([]int16, 160)
	for p := range secs * 50 {
		for i := range pcm {
			n := float64(p*160+i) / 8000
			pcm[i] = int16(5000*math.Sin(2*math.Pi*440*n) + 3000*math.Sin(2*math.Pi*1270*n))
		}
		packet(0, p == 0, ts, codec.PCMU.Encode(pcm, nil))
		ts += 160
	}
	if hash {
		// '#' (event 11), volume 10, 160 ms: one packet every 20 ms with a
		// growing duration, the last one (E bit) sent three times.
		for k := 1; k <= 8; k++ {
			ev := []byte{11, 10, 0, 0}
			binary.BigEndian.PutUint16(ev[2:], uint16(k*160))
			if k == 8 {
				ev[1] |= 0x80
				for range 3 {
					packet(101, false, ts, ev)
				}
				continue
			}
			packet(101, k == 1, ts, ev)
		}
		ts += 8 * 160
		// Half a second of audio after the key, so a player that stops at
		// the end of the file does not cut the event's last packets.
		for range 25 {
			packet(0, false, ts, codec.PCMU.Encode(make([]int16, 160), nil))
			ts += 160
		}
	}
	return os.WriteFile(name, buf.Bytes(), 0o644)
}

// soakPorts hands out UDP ports on 127.0.0.1 with the three above each
// free too (sipp binds a media port and the video port two above it);
// ports handed out once are not handed out again by this process.
var soakPorts = struct {
	sync.Mutex
	used map[int]bool
}{used: map[int]bool{}}

func soakUDPPort(t *testing.T) int {
	t.Helper()
	soakPorts.Lock()
	defer soakPorts.Unlock()
	for range 200 {
		first, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := first.LocalAddr().(*net.UDPAddr).Port
		held, ok := []net.PacketConn{first}, base+3 <= 65535
		for k := 0; ok && k < 4; k++ {
			if soakPorts.used[base+k] {
				ok = false
			} else if k > 0 {
				pc, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", base+k))
				if ok = err == nil; ok {
					held = append(held, pc)
				}
			}
		}
		for _, pc := range held {
			pc.Close()
		}
		if ok {
			for k := range 4 {
				soakPorts.used[base+k] = true
			}
			return base
		}
	}
	t.Fatal("no four free UDP ports in a row on 127.0.0.1")
	return 0
}

func soakTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape reads the unlabelled samples of a Prometheus text page (labelled
// series are summed under their bare name).
func scrape(url string) (map[string]float64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		if f := strings.Fields(val); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				out[name] += v
			}
		}
	}
	return out, sc.Err()
}

// sippStats is the last row of a sipp -trace_stat file, by column.
func sippStats(file string) (map[string]string, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("%s: no statistics row", file)
	}
	head, last := strings.Split(lines[0], ";"), strings.Split(lines[len(lines)-1], ";")
	out := map[string]string{}
	for i, h := range head {
		if i < len(last) {
			out[h] = last[i]
		}
	}
	return out, nil
}

func statInt(m map[string]string, col string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(m[col]))
	return n
}

// sippOK reads the "OK <Call-ID> <from> <to>" lines the soak scenarios log
// for each call that completed (the files sipp -trace_logs wrote in dir).
func sippOK(dir string) ([][3]string, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*_logs.log"))
	var out [][3]string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "OK" {
				out = append(out, [3]string{f[1], f[2], f[3]})
			}
		}
		fh.Close()
	}
	return out, nil
}

// series is one metric over the soak: elapsed seconds and values.
type series struct {
	at, v []float64
}

// thirds gives the mean of the first and last third of the samples.
func (s series) thirds() (first, last float64) {
	n := len(s.v) / 3
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	return mean(s.v[:n]), mean(s.v[len(s.v)-n:])
}

// minFirstLast is the lowest sample of the first and of the last third: for
// the heap at GOGC 400, the floor after a collection tracks live memory
// better than the saw-tooth's mean.
func (s series) minFirstLast() (first, last float64) {
	n := len(s.v) / 3
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	lo := func(v []float64) float64 {
		m := v[0]
		for _, x := range v {
			m = min(m, x)
		}
		return m
	}
	return lo(s.v[:n]), lo(s.v[len(s.v)-n:])
}

// slope is the least-squares slope per minute.
func (s series) slope() float64 {
	n := float64(len(s.v))
	if n < 2 {
		return math.NaN()
	}
	mx, my := mean(s.at), mean(s.v)
	var sxy, sxx float64
	for i := range s.v {
		sxy += (s.at[i] - mx) * (s.v[i] - my)
		sxx += (s.at[i] - mx) * (s.at[i] - mx)
	}
	if sxx == 0 {
		return math.NaN()
	}
	return sxy / sxx * 60
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
