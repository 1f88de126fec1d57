package spawnd

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNotFound is the error of a LookPath that found nothing; it is
// os/exec's own value, so errors.Is works with either package.
var ErrNotFound = exec.ErrNotFound

// ErrDot is the error of a LookPath that resolved a program through a
// relative PATH entry, such as "." or ""; it is os/exec's own value.
var ErrDot = exec.ErrDot

// LookPath searches the directories of $PATH for an executable named
// file, as os/exec.LookPath of Go 1.19 does: a name with a slash is
// checked as it is; a result found through a relative PATH entry is
// returned together with an *Error wrapping ErrDot.
func LookPath(file string) (string, error) {
	if strings.Contains(file, "/") {
		err := findExecutable(file)
		if err == nil {
			return file, nil
		}
		return "", &Error{Name: file, Err: err, Index: -1}
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" {
			dir = "." // Unix shell semantics: "" means "."
		}
		path := filepath.Join(dir, file)
		if err := findExecutable(path); err == nil {
			if !filepath.IsAbs(path) {
				return path, &Error{Name: file, Err: ErrDot,
					Index: -1}
			}
			return path, nil
		}
	}
	return "", &Error{Name: file, Err: ErrNotFound, Index: -1}
}

func findExecutable(file string) error {
	d, err := os.Stat(file)
	if err != nil {
		return err
	}
	if m := d.Mode(); !m.IsDir() && m&0111 != 0 {
		return nil
	}
	return fs.ErrPermission
}
