"""`make bench`: the system benchmark, then the scan upload benchmark (figures, not pass/fail)."""

import sys

from bench import harness, scan_upload

harness.main(sys.argv[1:])
sys.argv = sys.argv[:1]
scan_upload.main()
