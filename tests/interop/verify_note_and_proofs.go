// Command verify_note_and_proofs checks Anlian's signed checkpoints and Merkle proofs
// with Go's own golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog packages.
//
// Those packages were written independently of Anlian (they back the Go checksum
// database), so if they accept what our Python code produces, our bytes follow the
// signed-note and RFC 6962/9162 formats rather than just agreeing with themselves.
//
// Usage: verify_note_and_proofs INPUT.json
//
// It prints one line per check, "PASS <check>" or "FAIL <check>: <reason>", then a
// summary line. Exit status: 0 if every check passed, 1 if any failed, 2 if the input
// could not be read at all. The check names are stable: the Python test matches them.
//
// Proof order: tlog's RecordProof and TreeProof list hashes from the leaf (or the
// old tree) upwards, and its leafProof/treeProof recursions are RFC 6962 §2.1.1/§2.1.2
// PATH and SUBPROOF verbatim (each appends the sibling subtree after the sub-proof),
// which is also RFC 9162's order. So our proofs are passed to tlog unchanged.
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// input is the JSON file the Python test writes. Hashes are hex; leaf data is the
// exact entry bytes, base64 (encoding/json's encoding of []byte).
type input struct {
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifier_key"`
	Trees       []struct {
		Size       int64  `json:"size"`
		Root       string `json:"root"`
		Checkpoint string `json:"checkpoint"` // signed note whose body is the checkpoint
	} `json:"trees"`
	Leaves []struct {
		Index    int64  `json:"index"`
		Data     []byte `json:"data"`
		LeafHash string `json:"leaf_hash"` // what our Python leaf_hash() computed
	} `json:"leaves"`
	Inclusion []struct {
		Index int64    `json:"index"`
		Size  int64    `json:"size"`
		Proof []string `json:"proof"`
	} `json:"inclusion"`
	Consistency []struct {
		First  int64    `json:"first"`
		Second int64    `json:"second"`
		Proof  []string `json:"proof"`
	} `json:"consistency"`
}

var passed, failed int

// report prints one check's outcome and counts it.
func report(check string, err error) {
	if err != nil {
		failed++
		fmt.Printf("FAIL %s: %v\n", check, err)
		return
	}
	passed++
	fmt.Printf("PASS %s\n", check)
}

func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		return h, fmt.Errorf("malformed hash %q", s)
	}
	copy(h[:], b)
	return h, nil
}

func parseHashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		h, err := parseHash(s)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// parseCheckpoint reads a C2SP tlog-checkpoint body: origin, decimal size, base64 root,
// each ending in "\n", optionally followed by extension lines. tlog.ParseTree is not
// used because it only accepts the Go checksum database's own origin line.
func parseCheckpoint(text string) (origin string, size int64, root tlog.Hash, err error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" { // SplitAfter leaves "" after the final "\n"
		return "", 0, root, fmt.Errorf("checkpoint body needs origin, size and root lines")
	}
	origin = strings.TrimSuffix(lines[0], "\n")
	sizeText := strings.TrimSuffix(lines[1], "\n")
	// Decimal without sign or leading zeros, as the checkpoint format demands.
	size, err = strconv.ParseInt(sizeText, 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeText {
		return "", 0, root, fmt.Errorf("tree size %q is not a canonical decimal", sizeText)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(raw) != tlog.HashSize {
		return "", 0, root, fmt.Errorf("root hash is not 32 bytes of base64")
	}
	copy(root[:], raw)
	return origin, size, root, nil
}

// memoryHashes is tlog's own storage layout (StoredHashIndex order), filled by
// tlog.StoredHashes from the leaf data, so tlog.TreeHash computes roots with no help
// from our code.
type memoryHashes []tlog.Hash

func (m memoryHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("hash %d not stored: leaves missing", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: verify_note_and_proofs INPUT.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Printf("FAIL input: %v\n", err)
		os.Exit(2)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fmt.Printf("FAIL input: %v\n", err)
		os.Exit(2)
	}

	// The verifier key string ("name+keyid+base64(0x01||key)") must parse; NewVerifier
	// also recomputes the key id from name and key, so a wrong id is rejected here.
	verifier, err := note.NewVerifier(in.VerifierKey)
	report("verifier-key", err)
	if err != nil {
		fmt.Printf("SUMMARY %d passed, %d failed\n", passed, failed)
		os.Exit(1)
	}
	verifiers := note.VerifierList(verifier)

	// Roots by tree size, as claimed by the input. Each one is checked below against
	// a checkpoint signed for that size and against tlog's own tree hash.
	roots := map[int64]tlog.Hash{}
	for _, t := range in.Trees {
		if h, err := parseHash(t.Root); err == nil {
			roots[t.Size] = h
		}
	}
	rootOf := func(size int64) (tlog.Hash, error) {
		h, ok := roots[size]
		if !ok {
			return h, fmt.Errorf("no root given for tree size %d", size)
		}
		return h, nil
	}

	// Checkpoints: note.Open checks the signature over the body bytes; only then is the
	// body parsed and compared with the claimed root.
	for _, t := range in.Trees {
		report(fmt.Sprintf("checkpoint size=%d", t.Size), func() error {
			n, err := note.Open([]byte(t.Checkpoint), verifiers)
			if err != nil {
				return fmt.Errorf("note.Open: %v", err)
			}
			origin, size, root, err := parseCheckpoint(n.Text)
			if err != nil {
				return fmt.Errorf("body: %v", err)
			}
			if origin != in.Origin {
				return fmt.Errorf("body: origin %q, want %q", origin, in.Origin)
			}
			if size != t.Size {
				return fmt.Errorf("body: tree size %d, want %d", size, t.Size)
			}
			if want, err := rootOf(t.Size); err != nil || root != want {
				return fmt.Errorf("body: signed root %s differs from the given root %q", root, t.Root)
			}
			return nil
		}())
	}

	// Leaves: our leaf_hash must equal tlog.RecordHash (SHA-256(0x00 || data)).
	// Leaf hashes by index, for the proofs, come from tlog, not from the input.
	leafHashes := map[int64]tlog.Hash{}
	for _, l := range in.Leaves {
		h := tlog.RecordHash(l.Data)
		leafHashes[l.Index] = h
		report(fmt.Sprintf("leaf index=%d", l.Index), func() error {
			want, err := parseHash(l.LeafHash)
			if err != nil {
				return err
			}
			if h != want {
				return fmt.Errorf("tlog.RecordHash is %x, input says %s", h[:], l.LeafHash)
			}
			return nil
		}())
	}

	// Tree hashes: store the leaves the way tlog does and let tlog.TreeHash compute
	// each root, so our tree_hash is compared with an independent implementation.
	var stored memoryHashes
	for n := int64(0); ; n++ {
		h, ok := leafHashes[n]
		if !ok {
			break // tlog can only build over leaves 0..n-1 with none missing
		}
		hashes, err := tlog.StoredHashesForRecordHash(n, h, stored)
		if err != nil {
			panic(err) // cannot happen: every earlier hash is in stored
		}
		stored = append(stored, hashes...)
	}
	for _, t := range in.Trees {
		report(fmt.Sprintf("tree size=%d", t.Size), func() error {
			got, err := tlog.TreeHash(t.Size, stored)
			if err != nil {
				return fmt.Errorf("tlog.TreeHash: %v", err)
			}
			if want, err := rootOf(t.Size); err != nil || got != want {
				return fmt.Errorf("tlog.TreeHash is %x, input says %s", got[:], t.Root)
			}
			return nil
		}())
	}

	// Inclusion proofs, passed to tlog.CheckRecord in our (RFC 9162) order unchanged.
	for _, p := range in.Inclusion {
		report(fmt.Sprintf("inclusion index=%d size=%d", p.Index, p.Size), func() error {
			proof, err := parseHashes(p.Proof)
			if err != nil {
				return err
			}
			root, err := rootOf(p.Size)
			if err != nil {
				return err
			}
			leaf, ok := leafHashes[p.Index]
			if !ok {
				return fmt.Errorf("no leaf data for index %d", p.Index)
			}
			if err := tlog.CheckRecord(proof, p.Size, root, p.Index, leaf); err != nil {
				return fmt.Errorf("tlog.CheckRecord: %v", err)
			}
			return nil
		}())
	}

	// Consistency proofs, passed to tlog.CheckTree unchanged. Note the argument order:
	// CheckTree(proof, newSize, newRoot, oldSize, oldRoot).
	for _, p := range in.Consistency {
		report(fmt.Sprintf("consistency first=%d second=%d", p.First, p.Second), func() error {
			proof, err := parseHashes(p.Proof)
			if err != nil {
				return err
			}
			first, err := rootOf(p.First)
			if err != nil {
				return err
			}
			second, err := rootOf(p.Second)
			if err != nil {
				return err
			}
			if err := tlog.CheckTree(proof, p.Second, second, p.First, first); err != nil {
				return fmt.Errorf("tlog.CheckTree: %v", err)
			}
			return nil
		}())
	}

	fmt.Printf("SUMMARY %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
