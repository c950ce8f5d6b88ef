// Prints known values from Go's golang.org/x/mod/sumdb/tlog for tests/test_ledger_tiles.py (tests/go/vectors/tiles-70000.txt, sorted, duplicates removed):
// the tiles of a log whose entry i is "entry <i>" (C2SP paths, without Go's height element),
// the SHA-256 of each tile's bytes, and the tree's root, for a few (old, new) sizes.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run tests/go/vectors/main.go
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

type hashes []tlog.Hash

func (h hashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = h[x]
	}
	return out, nil
}

func main() {
	const size = 70000
	var stored hashes
	for i := int64(0); i < size; i++ {
		more, err := tlog.StoredHashes(i, []byte(fmt.Sprintf("entry %d", i)), stored)
		if err != nil {
			panic(err)
		}
		stored = append(stored, more...)
	}
	for _, pair := range [][2]int64{{0, 1}, {0, 256}, {0, 70000}, {5, 261}, {1000, 70000}, {65535, 65536}} {
		fmt.Printf("new %d %d\n", pair[0], pair[1])
		for _, t := range tlog.NewTiles(8, pair[0], pair[1]) {
			data, err := tlog.ReadTileData(t, stored)
			if err != nil {
				panic(err)
			}
			path := strings.Replace(t.Path(), "tile/8/", "tile/", 1)
			fmt.Printf("%s %x\n", path, sha256.Sum256(data))
		}
	}
	for _, n := range []int64{1, 256, 70000} {
		root, err := tlog.TreeHash(n, stored)
		if err != nil {
			panic(err)
		}
		fmt.Printf("root %d %s\n", n, base64.StdEncoding.EncodeToString(root[:]))
	}
}
