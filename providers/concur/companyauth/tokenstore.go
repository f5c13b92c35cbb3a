package companyauth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CheckTokenStore reports whether dirgate can keep Config.TokenStore at
// path: its directory exists and takes new files (the store is written
// by renaming a new file over it), and the file, when there is one, is a
// file dirgate can read. Call it at start-up, so that a store that cannot
// be written stops dirgate there rather than failing the first refresh.
// The error names the directory, never the file's content.
func CheckTokenStore(path string) error {
	dir := filepath.Dir(path)
	switch st, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("the directory %s does not exist: create it, writable by dirgate, or keep the token store elsewhere", dir)
	case err != nil:
		return fmt.Errorf("the directory %s cannot be read: %w", dir, errors.Unwrap(err))
	case !st.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return fmt.Errorf("%s is a directory, not a file", path)
		}
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("the file %s cannot be read: %w", path, errors.Unwrap(err))
		}
		f.Close()
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.check")
	if err != nil {
		return fmt.Errorf("the directory %s does not take new files (dirgate writes the store there): %w", dir, errors.Unwrap(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
