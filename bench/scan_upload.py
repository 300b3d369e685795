"""Scan upload benchmark: `python -m bench.scan_upload [--mb 200] [--json PATH]`.

Starts the embedded servers and the scan service as its own process (as `motcua up` does),
then:

1. puts a generated PDF of about 200 MB straight into S3 with the MinIO SDK (the raw
   baseline, same part size and parallelism as the service);
2. uploads the same file through scan's HTTP API (streamed multipart → temporary file with
   SHA-256 → PDF checks → S3 multipart put → MongoDB record + outbox), and reports MB/s, the
   ratio to the raw put, and the scan process's peak RSS growth during the upload (target:
   under 64 MB — memory must not grow with the file);
3. uploads 50 JPEG pages that scan assembles into one PDF, for the image path.

Not part of pytest. Results are printed and written as JSON (bench/results/scan_upload.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from minio import Minio
from PIL import Image

from services.kit.auth import Role, mint_dev_token
from services.launcher.stack import Stack
from services.scan.model import place_image
from services.scan.pdf import StreamingPdfWriter
from services.scan.storage import PARALLEL_PARTS, PART_SIZE

MB = 1024 * 1024
TARGET_RSS_GROWTH_MB = 64


def noise_jpeg(path: Path, target_bytes: int, seed: int = 7) -> tuple[int, int]:
    """A grey-noise JPEG of about `target_bytes` (noise does not compress)."""
    pixels = float(target_bytes)
    for _ in range(3):  # noise compresses to a steady bytes-per-pixel: two corrections suffice
        width = int((pixels / 1.3) ** 0.5)
        height = int(width * 1.3)
        Image.frombytes("L", (width, height), os.urandom(width * height)).save(path, "JPEG", quality=92)
        pixels *= target_bytes / path.stat().st_size
    return width, height


def make_pdf(path: Path, size_mb: int, pages: int = 100) -> int:
    """A scanned-looking PDF: `pages` full-page JPEG images, `size_mb` in total, written as it goes."""
    page_jpeg = path.with_suffix(".page.jpg")
    width, height = noise_jpeg(page_jpeg, size_mb * MB // pages)
    placement = place_image(width, height, (300.0, 300.0))
    with path.open("wb") as out:
        writer = StreamingPdfWriter(out, pages)
        for _ in range(pages):
            writer.add_jpeg_page(page_jpeg, width, height, "L", placement)
        writer.finish()
    page_jpeg.unlink()
    return path.stat().st_size


def _status(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def _reset_peak(pid: int) -> bool:
    """Linux ≥ 4.0: writing 5 to clear_refs resets VmHWM (peak RSS) to the current RSS."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class RssSampler(threading.Thread):
    """Samples a process's RSS every few milliseconds (a fallback to VmHWM, and a cross-check)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.peak = max(self.peak, _status(self.pid)["VmRSS"])
            time.sleep(0.005)


def upload(client: httpx.Client, url: str, files: list[tuple[str, Path]], headers: dict[str, str]
           ) -> tuple[httpx.Response, float]:
    handles = [(name, path.open("rb")) for name, path in files]
    try:
        started = time.perf_counter()
        response = client.post(url, headers=headers,
                               data={"unit_path": "91001,91", "owner_id": "091203001234"},
                               files=[("files", (name, fh, "application/octet-stream")) for name, fh in handles])
        return response, time.perf_counter() - started
    finally:
        for _, fh in handles:
            fh.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Scan upload benchmark")
    parser.add_argument("--mb", type=int, default=200, help="size of the generated PDF")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "scan_upload.json")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="motcua-bench-scan-"))
    stack = Stack(data_dir=root / "stack", random_ports=True, services=("scan",), extra_env={
        "MOTCUA_SCAN_MAX_FILE_MB": str(args.mb * 2), "MOTCUA_SCAN_MAX_REQUEST_MB": str(args.mb * 2),
        "MOTCUA_SCAN_RETENTION_INTERVAL_S": "0", "MOTCUA_LOG_LEVEL": "WARNING",
        "MOTCUA_SCAN_TMP_DIR": str(root / "spool"),
    })
    (root / "spool").mkdir()
    results: dict[str, Any] = {"benchmark": "scan_upload", "cpus": os.cpu_count()}
    try:
        print(f"generating a {args.mb} MB PDF …", flush=True)
        pdf = root / "big.pdf"
        size = make_pdf(pdf, args.mb)
        size_mb = size / MB
        results["pdf_mb"] = round(size_mb, 1)

        endpoints = stack.start_servers()
        stack.start_services()
        scan = stack.running["scan"]
        pid = scan.process.pid
        assert pid is not None
        secret = stack.service_env()["MOTCUA_AUTH_DEV_SECRET"]
        headers = {"Authorization": "Bearer " + mint_dev_token(
            secret, subject="bench", roles=[Role.RECEPTION_OFFICER], unit_code="91001")}

        # 1. raw S3 put of the same file (same part size and parallelism as the service)
        s3 = Minio(endpoints.s3_endpoint, access_key=endpoints.s3_access_key,
                   secret_key=endpoints.s3_secret_key, secure=False)
        bucket = "motcua-bench-raw"
        if not s3.bucket_exists(bucket):
            s3.make_bucket(bucket)
        started = time.perf_counter()
        s3.fput_object(bucket, "raw/big.pdf", str(pdf), content_type="application/pdf",
                       part_size=PART_SIZE, num_parallel_uploads=PARALLEL_PARTS)
        raw_s = time.perf_counter() - started
        results["raw_s3_put_mb_s"] = round(size_mb / raw_s, 1)

        with httpx.Client(base_url=scan.url, timeout=600) as client:
            # warm-up: imports, connections, indexes
            small = root / "warm.jpg"
            Image.new("RGB", (200, 280), (200, 200, 200)).save(small, "JPEG")
            warm, _ = upload(client, "/dossiers/000.00.12.H01-260302-0001/components/warm/documents",
                             [("warm.jpg", small)], headers)
            warm.raise_for_status()

            # 2. the 200 MB PDF through scan
            baseline = _status(pid)["VmRSS"]
            hwm_reset = _reset_peak(pid)
            sampler = RssSampler(pid)
            sampler.start()
            response, took = upload(client, "/dossiers/000.00.12.H01-260302-0002/components/big/documents",
                                    [("big.pdf", pdf)], headers)
            sampler.stop_flag.set()
            sampler.join()
            response.raise_for_status()
            peak = _status(pid)["VmHWM"] if hwm_reset else sampler.peak
            body = response.json()
            assert body["pages"] == 100 and body["size"] == size, body
            results.update(
                scan_upload_mb_s=round(size_mb / took, 1),
                scan_upload_s=round(took, 2),
                ratio_to_raw_put=round(raw_s / took, 2),
                rss_before_mb=round(baseline / MB, 1),
                peak_rss_growth_mb=round(max(peak, sampler.peak) / MB - baseline / MB, 1),
                peak_measured_by="VmHWM after clear_refs" if hwm_reset else "RSS sampling every 5 ms",
                thumbnail_source=body["thumbnail_source"],
            )

            # 3. the image path: 50 JPEG pages assembled into one PDF
            pages = []
            for i in range(50):
                path = root / f"page-{i:02d}.jpg"
                image = Image.frombytes("L", (1240, 1754), os.urandom(1240 * 1754))
                image.save(path, "JPEG", quality=80, dpi=(150, 150))
                pages.append((path.name, path))
            images_mb = sum(p.stat().st_size for _, p in pages) / MB
            response, took = upload(client, "/dossiers/000.00.12.H01-260302-0003/components/anh/documents",
                                    pages, headers)
            response.raise_for_status()
            assert response.json()["pages"] == 50
            results.update(images_pages=50, images_mb=round(images_mb, 1),
                           images_upload_s=round(took, 2), images_pages_per_s=round(50 / took, 1))
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)

    ok = results.get("peak_rss_growth_mb", 1e9) < TARGET_RSS_GROWTH_MB
    print()
    print(f"scan upload of a {results['pdf_mb']} MB PDF")
    print(f"  raw S3 put (MinIO SDK)   {results['raw_s3_put_mb_s']:8.1f} MB/s")
    print(f"  through scan's API       {results['scan_upload_mb_s']:8.1f} MB/s   "
          f"({results['ratio_to_raw_put']:.2f} × raw, {results['scan_upload_s']} s)")
    print(f"  peak RSS growth          {results['peak_rss_growth_mb']:8.1f} MB     "
          f"(target < {TARGET_RSS_GROWTH_MB} MB: {'ok' if ok else 'MISSED'}; {results['peak_measured_by']})")
    print(f"  50 JPEG pages → one PDF  {results['images_upload_s']:8.2f} s      "
          f"({results['images_mb']} MB, {results['images_pages_per_s']} pages/s)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"  results: {args.json}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
