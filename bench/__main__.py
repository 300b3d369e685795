"""`make bench`: run the benchmarks and print their figures (results under bench/results/)."""

from bench import scan_upload

scan_upload.main()
