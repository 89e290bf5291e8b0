"""Deraining image files in batches: expanding inputs, planning outputs, reporting failures.

Every failure is recorded with the file and the reason, and the batch goes on; outputs are
written atomically, and nothing is written over an input or an existing file unless asked.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from derain_cli.errors import DerainError, UsageError, one_line
from derain_cli.fsutil import is_finished
from derain_cli.imageio import IMAGE_SUFFIXES, LoadedImage, check_output_size, output_suffix, read_image, write_image

if TYPE_CHECKING:
    from derain_cli.derainer import Derainer

# Image formats that cannot be written: an -o with one of these suffixes still names an image file, never a folder.
_OTHER_IMAGE_SUFFIXES = (".gif", ".heic", ".heif", ".avif", ".jxl", ".jp2", ".ppm", ".pgm", ".ico", ".svg")


@dataclass(frozen=True)
class Job:
    """One input image and the file its derained version goes to."""

    source: Path
    target: Path


@dataclass(frozen=True)
class Failure:
    """An input that could not be processed, and why (one line)."""

    source: str
    message: str
    exception: BaseException | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class _Found:
    path: Path
    root: Path | None  # the folder it was found under (for mirroring), None for files and globs


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _scan_folder(folder: Path, recursive: bool) -> tuple[list[_Found], list[Failure]]:
    """The regular image files in ``folder`` (and its sub-folders), and a failure for each folder that cannot be read."""
    images: list[_Found] = []
    failures: list[Failure] = []

    def unreadable(exc: OSError) -> None:
        failures.append(Failure(str(exc.filename or folder), f"cannot read folder ({exc.strerror or exc})"))

    for root, subfolders, names in os.walk(folder, onerror=unreadable):  # symbolic links to folders are not followed
        if not recursive:
            subfolders.clear()
        files = (Path(root, name) for name in names)
        images.extend(_Found(p, folder) for p in files if _is_image_name(p) and p.is_file())  # no FIFOs, devices
    return sorted(images, key=lambda f: f.path), failures


def _expand(text: str, recursive: bool) -> tuple[list[_Found], list[Failure]]:
    path = Path(text)
    if path.is_dir():
        images, failures = _scan_folder(path, recursive)
        if not images and not failures:
            failures.append(Failure(text, "folder holds no images"))
        return images, failures
    if path.exists():
        return [_Found(path, None)], []
    if glob.has_magic(text):
        files = [m for m in sorted(Path(m) for m in glob.glob(text, recursive=True)) if m.is_file()]
        return [_Found(m, None) for m in files], [] if files else [Failure(text, "no file matches this pattern")]
    return [], [Failure(text, "file not found")]


def expand_inputs(inputs: Iterable[str], recursive: bool = False) -> tuple[list[_Found], list[Failure]]:
    """Files as given, image files in folders (descending with ``recursive``), and glob matches.

    An input (or sub-folder) that cannot be read is a failure; the others are still expanded.
    """
    found: list[_Found] = []
    failures: list[Failure] = []
    for text in inputs:
        try:
            images, problems = _expand(text, recursive)
        except OSError as exc:  # e.g. a path inside a folder that cannot be searched
            images, problems = [], [Failure(text, f"cannot read ({exc.strerror or exc})")]
        found.extend(images)
        failures.extend(problems)
    return found, failures


def skipped_subfolders(inputs: Iterable[str]) -> int:
    """How many sub-folders of the folder inputs a scan without ``recursive`` leaves out (hidden ones not counted)."""
    count = 0
    for text in inputs:
        try:
            if Path(text).is_dir():
                count += sum(1 for e in os.scandir(text) if e.is_dir(follow_symlinks=False) and not e.name.startswith("."))
        except OSError:  # an unreadable folder is already a failure of the scan
            continue
    return count


def is_single_file_output(inputs: list[str], output: Path) -> bool:
    """True when one input file is written to the file ``output`` rather than into a folder.

    An ``output`` named like an image file is never taken for a folder: with one input file its suffix
    must be a format we write, and a folder, a pattern or several inputs need a folder (UsageError).
    """
    if output.is_dir():
        return False
    suffix = output.suffix.lower()
    first = Path(inputs[0]) if inputs else None
    one_file = len(inputs) == 1 and (first.is_file() or not (first.is_dir() or glob.has_magic(inputs[0])))
    if one_file:  # a missing file too: it is reported as such, and nothing is written
        if suffix and suffix not in IMAGE_SUFFIXES:
            writable = ", ".join(IMAGE_SUFFIXES)
            raise UsageError(f"-o {output}: cannot write {suffix} images; name a {writable} file, or a folder that exists")
        return bool(suffix)
    if suffix in IMAGE_SUFFIXES or suffix in _OTHER_IMAGE_SUFFIXES:
        given = f"{len(inputs)} inputs" if len(inputs) > 1 else "a folder" if first.is_dir() else "a pattern"
        raise UsageError(f"-o {output} names an image file, but the input is {given}: -o must name a folder")
    return False


def plan_jobs(
    found: list[_Found],
    output: Path,
    single_file: bool,
    fmt: str | None,
    overwrite: bool,
    skip_existing: bool = False,
) -> tuple[list[Job], list[Failure], list[Job]]:
    """Pair every input with its output path; refuse collisions and writing over existing files.

    Returns (jobs to run, refusals, jobs skipped): with ``skip_existing`` an existing output counts
    as finished (an interrupted batch resumes where it stopped: outputs are only ever complete files).
    """
    suffix = output_suffix(fmt) if fmt else ".png"
    inputs = {f.path.resolve() for f in found}
    jobs: list[Job] = []
    failures: list[Failure] = []
    skipped: list[Job] = []
    claimed: dict[Path, Path] = {}
    for item in found:
        if single_file:
            target = output if not fmt else output.with_suffix(suffix)
        else:
            relative = item.path.relative_to(item.root).parent if item.root else Path()
            target = output / relative / f"{item.path.stem}{suffix}"
        key = target.resolve()
        if key in claimed:
            failures.append(Failure(str(item.path), f"output {target} is already the output of {claimed[key]}"))
        elif key in inputs and not overwrite:
            failures.append(Failure(str(item.path), f"output {target} is an input file; pass --overwrite to replace it"))
        elif skip_existing and is_finished(target):
            claimed[key] = item.path
            skipped.append(Job(item.path, target))
        elif skip_existing and target.exists():
            failures.append(Failure(str(item.path), f"output {target} is empty, not a finished output; remove it to redo it"))
        elif target.exists() and not overwrite:
            failures.append(
                Failure(str(item.path), f"output {target} already exists; pass --overwrite to replace it or --skip-existing")
            )
        else:
            claimed[key] = item.path
            jobs.append(Job(item.path, target))
    return jobs, failures, skipped


def destination(jobs: list[Job]) -> Path:
    """Where a batch's outputs go, for its summary: the file of a single job, else the first output's folder."""
    return jobs[0].target if len(jobs) == 1 else jobs[0].target.parent


def derain_loaded(derainer: Derainer, image: LoadedImage) -> LoadedImage:
    """Derain the colour of a read image; alpha, bit depth and grayscale-ness pass through."""
    return LoadedImage(derainer.derain_float(image.rgb), image.alpha, image.bit_depth, image.grayscale, image.frames)


def write_output(job: Job, image: LoadedImage, quality: int = 95, overwrite: bool = False) -> None:
    """Write a job's derained image atomically, creating its folder; a failure names the output.

    An existing target is kept unless ``overwrite``; the format's size limit is checked first.
    """
    check_output_size(job.target, image.rgb.shape[1], image.rgb.shape[0])
    try:
        job.target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DerainError(f"{job.target}: cannot create the output folder ({exc.strerror or exc})") from None
    write_image(job.target, image, quality, overwrite)


def derain_file(derainer: Derainer, job: Job, quality: int = 95, overwrite: bool = False) -> LoadedImage:
    """Read, derain (colour only; alpha passes through) and atomically write one image; returns it.

    The output format's size limit is checked before deraining; an existing target is kept unless ``overwrite``.
    """
    image = read_image(job.source)
    check_output_size(job.target, image.rgb.shape[1], image.rgb.shape[0])
    derained = derain_loaded(derainer, image)
    write_output(job, derained, quality, overwrite)
    return derained


def job_failure(job: Job, exc: BaseException) -> Failure:
    """The one-line failure of ``job`` (the source is not repeated in the message)."""
    return Failure(str(job.source), one_line(exc).removeprefix(f"{job.source}: "), exc)


def run_jobs(
    derainer: Derainer,
    jobs: list[Job],
    quality: int = 95,
    on_done: Callable[[Job, Failure | None], None] | None = None,
    after: Callable[[Job, LoadedImage], None] | None = None,
    overwrite: bool = False,
) -> list[Failure]:
    """Process every job, collecting failures instead of stopping at the first.

    ``after`` is an extra step run on each derained image (e.g. segmentation); its failures count as the job's.
    """
    failures: list[Failure] = []
    for job in jobs:
        failure = None
        try:
            derained = derain_file(derainer, job, quality, overwrite)
            if after:
                after(job, derained)
        except (DerainError, OSError) as exc:
            failure = job_failure(job, exc)
            failures.append(failure)
        if on_done:
            on_done(job, failure)
    return failures
