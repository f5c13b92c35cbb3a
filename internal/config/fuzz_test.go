package config

import (
	"strings"
	"testing"
)

// FuzzParse: no file makes Parse panic, and no error quotes the value of
// a variable from the environment, but for the paths of files dirgate
// keeps (the token store's directory), which are no secret.
func FuzzParse(f *testing.F) {
	f.Add("providers:\n  - key: g\n    kind: getbill\n    token: ${T}\n")
	f.Add("server:\n  adress: x\n  requestTimeout: 10\n  maxPageSize: lots\nproviders:\n  - key: c\n    kind: concur\n    clientId: ${X:-y}\n    timeout: 10\n")
	f.Add("base: &b {every: 1m}\nserver:\n  <<: *b\n  limits: [1, 2]\nproviders: {a: b}\n")
	f.Add("providers:\n  - key: f\n    kind: file\n    path: ${T}\n    company: {name: [x]}\n")
	f.Add("server: ~\nproviders:\n  - ~\n  - [a]\n  - key: ${T}\n")
	const secret = "fuzz-secret-value-Zq81"
	f.Fuzz(func(t *testing.T, file string) {
		_, err := Parse([]byte(file), func(string) string { return secret })
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if strings.Contains(line, secret) && !strings.Contains(line, ".tokenStore: ") {
				t.Errorf("the error quotes a variable's value: %v", line)
			}
		}
	})
}
