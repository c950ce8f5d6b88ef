// Reads the shuangsui log with Go's own implementations (golang.org/x/mod/sumdb/note
// and .../tlog) and exits non-zero unless every check passes:
//
//   - note.Open on the checkpoint at <tiles>/checkpoint with the log's verifier key
//     (and refusal of a tampered checkpoint and of another key of the same name);
//   - the tiles read through tlog.TileHashReader, which authenticates them against
//     the signed root, and every entry of the entry bundles hashing to its leaf;
//   - tlog.CheckRecord on inclusion proofs made by tlog.ProveRecord from the tiles
//     and on those the service's JSON API serves;
//   - with -old, tlog.CheckTree on consistency proofs from an earlier checkpoint,
//     made from the tiles and served by the JSON API.
//
// <tiles> is the log's tlog-tiles prefix: a URL (http://host:port/tlog) or a
// directory written by `shuangsui log export-tiles`. Built offline in GOPATH mode:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o interop tests/go/interop/main.go
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var tilesPrefix, apiBase string

func fetch(prefix, path string) ([]byte, error) {
	if !strings.HasPrefix(prefix, "http://") && !strings.HasPrefix(prefix, "https://") {
		return os.ReadFile(filepath.Join(prefix, filepath.FromSlash(path)))
	}
	resp, err := http.Get(prefix + "/" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return body, nil
}

// c2spPath is a Go tile path without Go's height element: tile/8/0/001 -> tile/0/001.
func c2spPath(t tlog.Tile) string {
	return strings.Replace(t.Path(), "tile/8/", "tile/", 1)
}

// tiles fetches each tile once; TileHashReader authenticates what it returns every time.
type tiles struct {
	fetched int
	cache   map[string][]byte
}

func (r *tiles) Height() int { return 8 }

func (r *tiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		data, ok := r.cache[c2spPath(t)]
		if !ok {
			var err error
			if data, err = fetch(tilesPrefix, c2spPath(t)); err != nil {
				return nil, err
			}
			r.cache[c2spPath(t)] = data
			r.fetched++
		}
		if len(data) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, want %d", c2spPath(t), len(data), t.W*tlog.HashSize)
		}
		out[i] = data
	}
	return out, nil
}

func (r *tiles) SaveTiles([]tlog.Tile, [][]byte) {}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func openCheckpoint(msg []byte, verifiers note.Verifiers) (checkpoint, error) {
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return checkpoint{}, fmt.Errorf("checkpoint has %d lines", len(lines))
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("bad size %q", lines[1])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return checkpoint{}, err
	}
	return checkpoint{lines[0], size, root}, nil
}

func decodeHashes(items []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(items))
	for i, s := range items {
		h, err := tlog.ParseHash(s)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

func getJSON(path string, v interface{}) error {
	data, err := fetch(apiBase, path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func bundle(n, size int64) ([][]byte, error) {
	w := 256
	if (n+1)*256 > size {
		w = int(size - n*256)
	}
	t := tlog.Tile{H: 8, L: 0, N: n, W: w}
	path := strings.Replace(t.Path(), "tile/8/0/", "tile/entries/", 1)
	data, err := fetch(tilesPrefix, path)
	if err != nil {
		return nil, err
	}
	var entries [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, errors.New("bundle ends in a length prefix")
		}
		l := int(data[0])<<8 | int(data[1])
		if len(data) < 2+l {
			return nil, errors.New("bundle ends in an entry")
		}
		entries = append(entries, data[2:2+l])
		data = data[2+l:]
	}
	if len(entries) != w {
		return nil, fmt.Errorf("%s holds %d entries, want %d", path, len(entries), w)
	}
	return entries, nil
}

func flip(h tlog.Hash) tlog.Hash { h[0] ^= 1; return h }

func run(key, oldFile string) error {
	verifier, err := note.NewVerifier(key)
	if err != nil {
		return err
	}
	verifiers := note.VerifierList(verifier)
	msg, err := fetch(tilesPrefix, "checkpoint")
	if err != nil {
		return err
	}
	cp, err := openCheckpoint(msg, verifiers)
	if err != nil {
		return fmt.Errorf("note.Open: %v", err)
	}
	if cp.origin != verifier.Name() {
		return fmt.Errorf("origin %q, key %q", cp.origin, verifier.Name())
	}
	// A checkpoint changed after signing, and another key of the same name, are refused.
	tampered := strings.Replace(string(msg), fmt.Sprintf("\n%d\n", cp.size), fmt.Sprintf("\n%d\n", cp.size+1), 1)
	if _, err := note.Open([]byte(tampered), verifiers); err == nil {
		return errors.New("note.Open accepted a tampered checkpoint")
	}
	_, otherKey, _ := note.GenerateKey(rand.Reader, verifier.Name())
	other, _ := note.NewVerifier(otherKey)
	if _, err := note.Open(msg, note.VerifierList(other)); err == nil {
		return errors.New("note.Open accepted the checkpoint under another key")
	}

	reader := &tiles{cache: map[string][]byte{}}
	thr := tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, reader)
	root, err := tlog.TreeHash(cp.size, thr)
	if err != nil || root != cp.root {
		return fmt.Errorf("tree hash from tiles: %v %v", root, err)
	}
	for n := int64(0); n*256 < cp.size; n++ {
		entries, err := bundle(n, cp.size)
		if err != nil {
			return err
		}
		for j, data := range entries {
			i := n*256 + int64(j)
			leaf := tlog.RecordHash(data)
			stored, err := thr.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
			if err != nil || stored[0] != leaf {
				return fmt.Errorf("entry %d does not hash to its leaf in the tiles: %v", i, err)
			}
			proof, err := tlog.ProveRecord(cp.size, i, thr)
			if err != nil {
				return err
			}
			if err := tlog.CheckRecord(proof, cp.size, cp.root, i, leaf); err != nil {
				return fmt.Errorf("CheckRecord %d (tiles): %v", i, err)
			}
			if apiBase == "" {
				continue
			}
			var served struct {
				EntryB64 string   `json:"entry_b64"`
				Proof    []string `json:"inclusion_proof"`
			}
			if err := getJSON(fmt.Sprintf("api/v1/log/entries/%d?tree_size=%d", i, cp.size), &served); err != nil {
				return err
			}
			body, _ := base64.StdEncoding.DecodeString(served.EntryB64)
			if string(body) != string(data) {
				return fmt.Errorf("entry %d: the API and the bundle differ", i)
			}
			p, err := decodeHashes(served.Proof)
			if err != nil {
				return err
			}
			if err := tlog.CheckRecord(p, cp.size, cp.root, i, leaf); err != nil {
				return fmt.Errorf("CheckRecord %d (API): %v", i, err)
			}
			if len(p) > 0 {
				p[len(p)-1] = flip(p[len(p)-1])
				if tlog.CheckRecord(p, cp.size, cp.root, i, leaf) == nil {
					return fmt.Errorf("CheckRecord %d accepted a modified proof", i)
				}
			}
		}
	}
	fmt.Printf("tiles ok: %d entries, %d tiles fetched\n", cp.size, reader.fetched)

	if oldFile != "" {
		msg, err := os.ReadFile(oldFile)
		if err != nil {
			return err
		}
		old, err := openCheckpoint(msg, verifiers)
		if err != nil {
			return fmt.Errorf("note.Open (old): %v", err)
		}
		proof, err := tlog.ProveTree(cp.size, old.size, thr)
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(proof, cp.size, cp.root, old.size, old.root); err != nil {
			return fmt.Errorf("CheckTree (tiles): %v", err)
		}
		if apiBase != "" {
			var served struct {
				Proof []string `json:"proof"`
			}
			path := fmt.Sprintf("api/v1/log/proof/consistency?first=%d&second=%d", old.size, cp.size)
			if err := getJSON(path, &served); err != nil {
				return err
			}
			p, err := decodeHashes(served.Proof)
			if err != nil {
				return err
			}
			if err := tlog.CheckTree(p, cp.size, cp.root, old.size, old.root); err != nil {
				return fmt.Errorf("CheckTree (API): %v", err)
			}
			if len(p) > 0 {
				p[0] = flip(p[0])
				if tlog.CheckTree(p, cp.size, cp.root, old.size, old.root) == nil {
					return errors.New("CheckTree accepted a modified proof")
				}
			}
		}
		if tlog.CheckTree(proof, cp.size, cp.root, old.size, flip(old.root)) == nil {
			return errors.New("CheckTree accepted another old root")
		}
		fmt.Printf("consistency ok: %d -> %d\n", old.size, cp.size)
	}
	return nil
}

func main() {
	key := flag.String("key", "", "the log's verifier key (name+hash+base64)")
	old := flag.String("old", "", "an earlier checkpoint (file) to check consistency from")
	flag.StringVar(&tilesPrefix, "tiles", "", "the tlog-tiles prefix: URL or directory")
	flag.StringVar(&apiBase, "api", "", "the service's base URL, to check its JSON proofs too")
	flag.Parse()
	if err := run(*key, *old); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}
