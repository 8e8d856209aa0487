// Command cosign_note makes and checks C2SP tlog-cosignature (cosignature/v1, Ed25519)
// signature lines with Go's golang.org/x/mod/sumdb/note and crypto/ed25519.
//
// The note package frames and parses the signature lines (em dash, name, base64 of the
// 32-bit key hash followed by the signature) and picks the lines by name and key hash;
// crypto/ed25519 signs and verifies.  This file adds only what the specification text
// says and x/mod does not know: the 0x04 key-id byte, the 8-byte big-endian timestamp in
// front of the signature and the "cosignature/v1\ntime T\n" prefix of the signed message.
//
// Usage: cosign_note INPUT.json   (writes one JSON document to standard output)
//
// Input:  {"sign":   [{"seed": hex32, "name": s, "timestamp": n, "body": s}],
//          "verify": [{"vkey": s, "note": s}]}
// Output: {"signed":   [{"vkey": s, "note": s}],
//          "verified": [{"ok": bool, "error": s, "timestamp": n}]}
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

const algCosignatureV1 = 0x04

type input struct {
	Sign []struct {
		Seed      string `json:"seed"`
		Name      string `json:"name"`
		Timestamp uint64 `json:"timestamp"`
		Body      string `json:"body"`
	} `json:"sign"`
	Verify []struct {
		VKey string `json:"vkey"`
		Note string `json:"note"`
	} `json:"verify"`
}

type signed struct {
	VKey string `json:"vkey"`
	Note string `json:"note"`
}

type verified struct {
	OK        bool   `json:"ok"`
	Error     string `json:"error"`
	Timestamp uint64 `json:"timestamp"`
}

func keyHash(name string, public ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{algCosignatureV1})
	h.Write(public)
	return binary.BigEndian.Uint32(h.Sum(nil)[:4])
}

func message(timestamp uint64, text []byte) []byte {
	return append([]byte("cosignature/v1\ntime "+strconv.FormatUint(timestamp, 10)+"\n"), text...)
}

// cosigner is a note.Signer whose signatures are timestamped cosignatures.
type cosigner struct {
	name      string
	hash      uint32
	key       ed25519.PrivateKey
	timestamp uint64
}

func (c cosigner) Name() string    { return c.name }
func (c cosigner) KeyHash() uint32 { return c.hash }
func (c cosigner) Sign(text []byte) ([]byte, error) {
	out := binary.BigEndian.AppendUint64(nil, c.timestamp)
	return append(out, ed25519.Sign(c.key, message(c.timestamp, text))...), nil
}

// verifier is a note.Verifier for one cosignature/v1 key; it remembers the last timestamp it saw.
type verifier struct {
	name      string
	hash      uint32
	key       ed25519.PublicKey
	timestamp *uint64
}

func (v verifier) Name() string    { return v.name }
func (v verifier) KeyHash() uint32 { return v.hash }
func (v verifier) Verify(text, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	*v.timestamp = t
	return ed25519.Verify(v.key, message(t, text), sig[8:])
}

func vkeyOf(name string, public ed25519.PublicKey) string {
	return fmt.Sprintf("%s+%08x+%s", name, keyHash(name, public),
		base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, public...)))
}

// parseVKey reads "name+hex key hash+base64(0x04 || key)" and checks the hash.
func parseVKey(vkey string) (verifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return verifier{}, fmt.Errorf("vkey has %d parts", len(parts))
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algCosignatureV1 {
		return verifier{}, fmt.Errorf("vkey is not a cosignature/v1 Ed25519 key")
	}
	public := ed25519.PublicKey(raw[1:])
	hash, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil || len(parts[1]) != 8 || uint32(hash) != keyHash(parts[0], public) {
		return verifier{}, fmt.Errorf("vkey hash %s does not match its name and key", parts[1])
	}
	return verifier{name: parts[0], hash: uint32(hash), key: public, timestamp: new(uint64)}, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: cosign_note INPUT.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := struct {
		Signed   []signed   `json:"signed"`
		Verified []verified `json:"verified"`
	}{Signed: []signed{}, Verified: []verified{}}

	for _, c := range in.Sign {
		seed, err := hex.DecodeString(c.Seed)
		if err != nil || len(seed) != ed25519.SeedSize {
			fmt.Fprintf(os.Stderr, "bad seed %q\n", c.Seed)
			os.Exit(2)
		}
		key := ed25519.NewKeyFromSeed(seed)
		public := key.Public().(ed25519.PublicKey)
		s := cosigner{name: c.Name, hash: keyHash(c.Name, public), key: key, timestamp: c.Timestamp}
		n, err := note.Sign(&note.Note{Text: c.Body}, s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "note.Sign: %v\n", err)
			os.Exit(2)
		}
		out.Signed = append(out.Signed, signed{VKey: vkeyOf(c.Name, public), Note: string(n)})
	}

	for _, c := range in.Verify {
		result := verified{}
		v, err := parseVKey(c.VKey)
		if err == nil {
			var n *note.Note
			n, err = note.Open([]byte(c.Note), note.VerifierList(v))
			if err == nil && len(n.Sigs) != 1 {
				err = fmt.Errorf("%d verified signatures, want 1", len(n.Sigs))
			}
		}
		if err != nil {
			result.Error = err.Error()
		} else {
			result.OK = true
			result.Timestamp = *v.timestamp
		}
		out.Verified = append(out.Verified, result)
	}

	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Stdout.Write(buf.Bytes())
}
