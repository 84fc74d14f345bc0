"""``cliprt libero download`` and ``cliprt libero convert`` (argparse only at import time)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``cliprt libero ...`` to the ``cliprt`` parser's sub-commands."""
    p = sub.add_parser("libero", help="LIBERO demonstrations: download (online) and convert to cliprt datasets")
    lsub = p.add_subparsers(dest="libero_command", metavar="ACTION")
    lsub.required = True
    d = lsub.add_parser("download", help="fetch one suite's demonstration files from the Hugging Face hub")
    d.add_argument("--suite", required=True, choices=("spatial", "object", "goal", "10", "90"))
    d.add_argument("--out", type=Path, required=True, help="folder for the *_demo.hdf5 files")
    d.add_argument(
        "--source",
        choices=("libero", "clip-rt"),
        default="libero",
        help="libero: LIBERO's release (128 px); clip-rt: the CLIP-RT authors' 256 px copy without no-op steps",
    )
    d.set_defaults(func=cmd_download)
    c = lsub.add_parser("convert", help="LIBERO demonstration files -> one cliprt dataset (CLIP-RT and CLIP-RT+)")
    c.add_argument("files", nargs="+", type=Path, help="LIBERO *_demo.hdf5 files (one per task)")
    c.add_argument("--out", type=Path, required=True, help="the new dataset folder")
    c.add_argument("--image-key", default="agentview_rgb", help="the camera to keep (default: agentview_rgb)")
    c.add_argument("--no-paraphrase", action="store_true", help="supervision = each motion's own text")
    c.set_defaults(func=cmd_convert)


def cmd_download(args: argparse.Namespace) -> int:
    from cliprt_data.libero.download import DownloadUnavailableError, download_libero

    try:
        files = download_libero(args.suite, args.out, source=args.source)
    except DownloadUnavailableError as exc:
        raise ValueError(str(exc)) from None
    print(f"{len(files)} files in {args.out}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from cliprt_data.libero.convert import convert_libero

    counts = convert_libero(args.files, args.out, image_key=args.image_key, paraphrase=not args.no_paraphrase, progress=True)
    print(json.dumps(counts, indent=2))
    return 0
